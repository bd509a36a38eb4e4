//! `lifeline-agent run`: stay connected to the relay, forever.

use crate::{
    backoff::{Backoff, random_u64},
    config::AgentConfig,
    facts,
    inventory::{self, InventoryConfig},
    screen::CaptureFactory,
    session::Sessions,
    ui::{
        child::{TrayChild, TrayEvent},
        tray::{FromTray, TrayState},
    },
};
use lifeline_inventory::Inventory;
use lifeline_net::{ConnectError, Connected, Fingerprint, open_control, read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, CloseCode, Credential, ErrorCode, Hello, MAX_FRAME_LEN, PROTOCOL_VERSION,
    PeerKind, RelayToAgent, SUPPORTED_VERSIONS,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};

/// Knobs for the run loop.
#[derive(Clone)]
pub struct RunOptions {
    /// Interval between heartbeats.
    pub heartbeat: Duration,
    /// First reconnect delay.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How often inventory is collected (also at every connect and on request).
    pub inventory_interval: Duration,
    /// Where inventory comes from.
    pub inventory: InventoryConfig,
    /// Accept screen sessions without asking the user.
    pub unattended: bool,
    /// Where screen images come from.
    pub capture: CaptureFactory,
    /// How long the user has to answer the consent prompt.
    pub consent_timeout: Duration,
    /// Show the tray icon when there is a display.
    pub tray: bool,
    /// The agent's state directory (the help dialog reads its config).
    pub agent_dir: std::path::PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(10),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            inventory_interval: Duration::from_secs(6 * 3600),
            inventory: InventoryConfig::default(),
            unattended: false,
            capture: std::sync::Arc::new(crate::capture::open_default),
            consent_timeout: crate::ui::child::CONSENT_TIMEOUT,
            tray: true,
            agent_dir: crate::config::default_dir(),
        }
    }
}

/// The run loop stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("bad fingerprint in agent config: {0}")]
    Config(#[from] lifeline_net::FingerprintError),
    #[error("{0}")]
    Fatal(ConnectError),
    #[error(
        "this machine was enrolled by an older agent and has no end-to-end session key; \
         enroll it again: lifeline-agent enroll --force …"
    )]
    NoE2eKey,
    #[error(transparent)]
    OrgKey(#[from] crate::config::BadOrgKey),
}

/// Connects, serves, and reconnects with backoff until a fatal error (the
/// relay's certificate changed, or the machine was revoked).
///
/// # Errors
/// Only fatal conditions; network trouble is retried.
pub async fn run(config: &AgentConfig, opts: &RunOptions) -> Result<(), RunError> {
    lifeline_net::tls::install_provider();
    let fingerprint: Fingerprint = config.fingerprint.parse()?;
    let identity = Arc::new(crate::streams::E2eIdentity {
        machine_id: config.machine_id.clone(),
        private: lifeline_net::e2e::key_from_hex(
            config.e2e_private.expose(),
            lifeline_net::e2e::KEY_LEN,
        )
        .ok_or(RunError::NoE2eKey)?,
        org_key: config.org_key()?,
    });
    let mut backoff = Backoff::new(opts.backoff_base, opts.backoff_max);
    let mut pending = Vec::new();
    // One icon for the agent's whole life, across reconnects.
    let mut tray = if opts.tray && crate::ui::child::display().is_ok() {
        match TrayChild::spawn(&config.machine_id) {
            Ok(t) => Some(t),
            Err(e) => {
                warn!("no tray icon: {e}");
                None
            }
        }
    } else {
        None
    };
    loop {
        match connect(config, &fingerprint).await {
            Ok(c) => {
                info!(relay = %config.relay, machine = %config.machine_id, "connected to relay");
                let started = Instant::now();
                let conn = c.conn.clone();
                let why = serve(c, opts, &mut tray, &identity, &mut pending)
                    .instrument(info_span!("relay", machine = %config.machine_id))
                    .await;
                // A stream error hides why the relay closed the connection
                // (shutdown, replaced, revoked); the connection knows.
                let why = conn.close_reason().map_or(why, |e| close_reason(&e));
                // Whatever still runs on it (an upload cut short) ends with
                // the connection, not as a truncated message.
                conn.close(CloseCode::Normal.code().into(), b"agent reconnects");
                warn!("disconnected from relay: {why}");
                if started.elapsed() > Duration::from_secs(10) {
                    backoff.reset();
                }
            }
            Err(e @ ConnectError::FingerprintMismatch { .. }) => return Err(RunError::Fatal(e)),
            Err(e) if e.refusal() == Some(ErrorCode::MachineUnknown) => {
                return Err(RunError::Fatal(e));
            }
            Err(e) => warn!("cannot reach relay: {e}"),
        }
        let delay = backoff.next_delay(random_u64());
        info!("reconnecting in {} ms", delay.as_millis());
        tokio::time::sleep(delay).await;
    }
}

async fn connect(
    config: &AgentConfig,
    fingerprint: &Fingerprint,
) -> Result<Connected, ConnectError> {
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        supported_versions: SUPPORTED_VERSIONS.to_vec(),
        kind: PeerKind::Agent,
        credential: Credential::Machine {
            machine_id: config.machine_id.clone(),
            secret: config.credential.clone(),
        },
        software: format!("lifeline-agent {}", env!("CARGO_PKG_VERSION")),
    };
    open_control(&config.relay, fingerprint, &hello).await
}

/// Serves one connection until it drops; returns why.
/// Waits for the tray's next event (never, without a tray).
async fn tray_event(tray: &mut Option<TrayChild>) -> Option<TrayEvent> {
    match tray {
        Some(t) => t.events.recv().await,
        None => std::future::pending().await,
    }
}

/// Does the tray switch to `ticket`'s news? It keeps showing an open
/// ticket until that one is done, whatever closed tickets report meanwhile.
fn tray_follows(shown: Option<&(u64, String)>, ticket: u64, status: &str) -> bool {
    let done = |s: &str| s == "resolved" || s == "closed";
    match shown {
        None => true,
        Some((n, st)) => *n == ticket || done(st) || !done(status),
    }
}

/// What the tray icon should show now.
fn tray_state(sessions: &Sessions, tray: &TrayChild) -> TrayState {
    if let Some(technician) = sessions.live_technician() {
        return TrayState::Live { technician };
    }
    match &tray.ticket {
        Some((ticket, status)) if status != "resolved" && status != "closed" => {
            TrayState::HelpRequested {
                ticket: *ticket,
                status: status.clone(),
            }
        }
        _ => TrayState::Idle,
    }
}

/// Reports of cut-off sessions kept for the next connection, at most.
const MAX_PENDING_REPORTS: usize = 32;

async fn serve(
    c: Connected,
    opts: &RunOptions,
    tray: &mut Option<TrayChild>,
    identity: &Arc<crate::streams::E2eIdentity>,
    pending: &mut Vec<crate::journal::Journal>,
) -> String {
    let Connected {
        conn,
        mut send,
        mut recv,
        endpoint: _endpoint,
        welcome,
    } = c;
    let _ = send.set_priority(lifeline_proto::CONTROL_PRIORITY);
    let (uploads, uploader) = spawn_uploader(&conn);
    let _uploader = AbortOnDrop(uploader);
    if let Err(e) = write_msg(
        &mut send,
        &AgentToRelay::Info(facts::machine_info()),
        MAX_FRAME_LEN,
    )
    .await
    {
        return e.to_string();
    }
    let (mut sessions, mut events) = Sessions::new(opts.unattended);
    sessions.e2e = Some(identity.clone());
    sessions.consent_timeout = opts.consent_timeout;
    let mut tick = tokio::time::interval(opts.heartbeat);
    let mut inv_tick = tokio::time::interval(opts.inventory_interval);
    let (inv_tx, mut inv_rx) = mpsc::channel::<Inventory>(1);
    let mut current: Option<Inventory> = None;
    let (notes_tx, mut notes_rx) = mpsc::unbounded_channel::<AgentToRelay>();
    let mut seq = 0u64;
    // Reports of sessions an earlier connection lost or did not confirm,
    // then those of sessions that end on this one.
    let mut reporter =
        crate::reports::Reporter::new(&conn, welcome.protocol_version, notes_tx.clone());
    for journal in pending.drain(..) {
        reporter.send(journal, false);
    }
    let why = async { loop {
        if let Some(t) = tray.as_mut() {
            let state = tray_state(&sessions, t);
            t.set(state).await;
        }
        tokio::select! {
            Some(ev) = tray_event(tray) => match ev {
                TrayEvent::Menu(FromTray::RequestHelp) => {
                    if let Some(t) = tray.as_ref() {
                        t.open_help(&opts.agent_dir);
                    }
                }
                TrayEvent::Menu(FromTray::StopSessions) => {
                    for s in sessions.live_ids() {
                        if let Some(msg) = sessions.on_ui(s, crate::ui::FromIndicator::Stop).await
                            && let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await
                        {
                            return e.to_string();
                        }
                    }
                }
                TrayEvent::Menu(FromTray::Quit) => {
                    info!("the user closed the tray icon");
                    *tray = None;
                }
                TrayEvent::TicketOpened(t) => {
                    if let Some(tr) = tray.as_mut() {
                        tr.ticket = Some((t, "new".into()));
                    }
                }
            },
            _ = inv_tick.tick() => spawn_collect(&opts.inventory, &inv_tx),
            Some(journal) = events.reports.recv() => reporter.send(journal, true),
            () = reporter.next_done(), if reporter.busy() => {}
            Some(note) = notes_rx.recv() => {
                if let Err(e) = write_msg(&mut send, &note, MAX_FRAME_LEN).await {
                    return e.to_string();
                }
            }
            Some((offer, decision)) = events.answers.recv() => {
                let session = offer.session;
                if let Some(decision) = sessions.answered(offer, &decision) {
                    let msg = AgentToRelay::SessionAnswer { session, decision };
                    if let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await {
                        return e.to_string();
                    }
                }
            }
            Some((session, ev)) = events.ui.recv() => {
                if let Some(msg) = sessions.on_ui(session, ev).await
                    && let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await
                {
                    return e.to_string();
                }
            }
            Some((session, req)) = events.requests.recv() => {
                if let Some(msg) = sessions.on_request(session, req).await
                    && let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await
                {
                    return e.to_string();
                }
            }
            Some((session, decision)) = events.control_answers.recv() => {
                if let Some(msg) = sessions.control_answered(session, &decision).await
                    && let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await
                {
                    return e.to_string();
                }
            }
            Some(inv) = inv_rx.recv() => {
                let msg = AgentToRelay::InventoryHashes(inventory::hashes(&inv));
                for e in &inv.errors {
                    warn!(source = %e.source, "inventory: {}", e.message);
                }
                current = Some(inv);
                if let Err(e) = write_msg(&mut send, &msg, MAX_FRAME_LEN).await {
                    return e.to_string();
                }
            }
            _ = tick.tick() => {
                seq += 1;
                if let Err(e) = write_msg(&mut send, &AgentToRelay::Heartbeat { seq }, MAX_FRAME_LEN).await {
                    return e.to_string();
                }
            }
            msg = read_msg::<RelayToAgent>(&mut recv, MAX_FRAME_LEN) => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return "relay closed the control stream".into(),
                    Err(e) => {
                        if e.is_protocol() {
                            conn.close(CloseCode::Protocol.code().into(), b"bad control frame");
                        }
                        return e.to_string();
                    }
                };
                // What a closing session's streams asked for before the
                // close (the technician's last chat lines) goes in its log.
                if matches!(msg, RelayToAgent::SessionClosed { .. }) {
                    while let Ok((session, req)) = events.requests.try_recv() {
                        if let Some(m) = sessions.on_request(session, req).await
                            && let Err(e) = write_msg(&mut send, &m, MAX_FRAME_LEN).await
                        {
                            return e.to_string();
                        }
                    }
                }
                if let RelayToAgent::TicketStatus { ticket, status } = &msg
                    && let Some(t) = tray.as_mut()
                    && tray_follows(t.ticket.as_ref(), *ticket, status)
                {
                    t.ticket = Some((*ticket, status.clone()));
                }
                let replies = match msg {
                    RelayToAgent::InventoryWanted { categories } => {
                        let data: Vec<_> = categories
                            .iter()
                            .filter_map(|c| current.as_ref().and_then(|inv| inventory::data(inv, c)))
                            .collect();
                        uploads.push(data);
                        Vec::new()
                    }
                    RelayToAgent::RefreshInventory => {
                        info!("inventory refresh requested");
                        spawn_collect(&opts.inventory, &inv_tx);
                        Vec::new()
                    }
                    other => on_message(other, &mut sessions).into_iter().collect::<Vec<_>>(),
                };
                for reply in replies {
                    if let Err(e) = write_msg(&mut send, &reply, MAX_FRAME_LEN).await {
                        return e.to_string();
                    }
                }
            }
            stream = conn.accept_bi() => {
                let (send, mut recv) = match stream {
                    Ok(s) => s,
                    Err(e) => return close_reason(&e),
                };
                match crate::streams::read_header(&mut recv).await {
                    Ok(h) if sessions.is_live(h.session) => {
                        match sessions.purpose(h.session) {
                            Some(purpose) if !purpose.carries(h.channel) => {
                                // Only a screen session, which the user saw
                                // and agreed to, carries pixels and input.
                                warn!(session = h.session, "refused a {:?} stream in a {purpose:?} session", h.channel);
                                let (mut send, mut recv) = (send, recv);
                                let code = lifeline_proto::streams::REFUSED_CHANNEL_CODE;
                                let _ = send.reset(code.into());
                                let _ = recv.stop(code.into());
                            }
                            _ => {
                                if let Some(ctx) = sessions.stream_ctx(h.session, opts.capture.clone(), notes_tx.clone()) {
                                    tokio::spawn(crate::streams::serve_stream(h, send, recv, ctx));
                                }
                            }
                        }
                    }
                    Ok(h) => {
                        warn!(session = h.session, "stream for a session that is not live");
                        let mut send = send;
                        let _ = send.reset(1u32.into());
                    }
                    Err(e) => warn!("bad session stream: {e}"),
                }
            }
        }
    } }
    .await;
    // Journals of sessions that closed just now, then of those still live.
    while let Ok(journal) = events.reports.try_recv() {
        pending.push(journal);
    }
    pending.extend(reporter.unsent());
    pending.extend(sessions.cut());
    if pending.len() > MAX_PENDING_REPORTS {
        pending.drain(..pending.len() - MAX_PENDING_REPORTS);
    }
    why
}

fn on_message(msg: RelayToAgent, sessions: &mut Sessions) -> Option<AgentToRelay> {
    match msg {
        RelayToAgent::HeartbeatAck { .. } => None,
        RelayToAgent::SessionOffer(offer) => {
            let session = offer.session;
            sessions
                .offer(offer)
                .map(|decision| AgentToRelay::SessionAnswer { session, decision })
        }
        RelayToAgent::SessionClosed { session, reason } => {
            info!(session, %reason, "relay closed session");
            sessions.close(session);
            None
        }
        RelayToAgent::Enrolled { .. } | RelayToAgent::EnrollFailed { .. } => {
            warn!("unexpected enrollment message on a running connection");
            None
        }
        RelayToAgent::TicketStatus { ticket, status } => {
            info!(ticket, %status, "ticket status");
            None
        }
        RelayToAgent::InventoryWanted { .. }
        | RelayToAgent::RefreshInventory
        | RelayToAgent::TicketOpened { .. } => None,
    }
}

/// Inventory categories waiting for the connection's uploader: the
/// newest copy of each (a relay asking again while an upload waits for a
/// thin link replaces what is queued instead of adding to it).
#[derive(Default)]
struct Uploads {
    pending: std::sync::Mutex<Vec<lifeline_proto::inventory::InventoryData>>,
    ready: tokio::sync::Notify,
}

impl Uploads {
    fn push(&self, batch: Vec<lifeline_proto::inventory::InventoryData>) {
        if batch.is_empty() {
            return;
        }
        if let Ok(mut pending) = self.pending.lock() {
            for d in batch {
                pending.retain(|p| p.category != d.category);
                pending.push(d);
            }
        }
        self.ready.notify_one();
    }

    fn take(&self) -> Vec<lifeline_proto::inventory::InventoryData> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

/// The connection's inventory uploader: what the relay asked for goes on
/// a unidirectional stream of its own at
/// [`lifeline_proto::BULK_PRIORITY`], so that a full upload on a thin
/// uplink waits behind screen frames and control messages instead of
/// delaying them. One task, one stream after another: the relay reads
/// them in order, so an older snapshot is never stored over a newer one.
fn spawn_uploader(conn: &quinn::Connection) -> (Arc<Uploads>, tokio::task::JoinHandle<()>) {
    let uploads = Arc::new(Uploads::default());
    let queue = uploads.clone();
    let conn = conn.clone();
    let task = tokio::spawn(async move {
        loop {
            queue.ready.notified().await;
            let batch = queue.take();
            if batch.is_empty() {
                continue;
            }
            let sent = async {
                let mut send = conn.open_uni().await.map_err(|e| e.to_string())?;
                let _ = send.set_priority(lifeline_proto::BULK_PRIORITY);
                for d in batch {
                    write_msg(&mut send, &AgentToRelay::InventoryData(d), MAX_FRAME_LEN)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                send.finish().map_err(|e| e.to_string())
            }
            .await;
            if let Err(e) = sent {
                warn!("inventory upload: {e}");
            }
        }
    });
    (uploads, task)
}

/// Aborts a task when dropped (the connection it served is gone).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Collects inventory on a blocking thread and hands it to the run loop.
fn spawn_collect(config: &InventoryConfig, tx: &mpsc::Sender<Inventory>) {
    let config = config.clone();
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let inv = config.collect();
        let _ = tx.blocking_send(inv);
    });
}

fn close_reason(e: &quinn::ConnectionError) -> String {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => {
            match CloseCode::from_code(c.error_code.into_inner()) {
                Some(CloseCode::Shutdown) => "relay is shutting down".into(),
                Some(CloseCode::Replaced) => {
                    "another connection of this machine replaced this one".into()
                }
                Some(CloseCode::Revoked) => "machine revoked".into(),
                _ => format!("closed by relay: {}", String::from_utf8_lossy(&c.reason)),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::tray_follows;

    #[test]
    fn the_tray_keeps_an_open_ticket_until_it_is_done() {
        let open = (1, "open".to_string());
        assert!(tray_follows(None, 1, "new"));
        assert!(tray_follows(Some(&open), 1, "resolved"));
        // A session's ticket, resolved at once, does not hide the open one.
        assert!(!tray_follows(Some(&open), 2, "resolved"));
        assert!(tray_follows(Some(&open), 3, "new"));
        assert!(tray_follows(Some(&(1, "closed".into())), 2, "resolved"));
    }
}
