//! An enrolled agent's connection: presence, session answers, inventory
//! and session reports. One-request connections (enrollment, a help
//! request) are in [`crate::agent_once`].

pub use crate::agent_once::{enroll, serve_request};

use crate::{server::ConnError, server::Ctx};
use lifeline_net::{read_msg, unix_micros, unix_secs};
use lifeline_proto::{
    AgentToRelay, CONTROL_PRIORITY, MAX_FRAME_LEN, RelayToAgent, session_log::SessionReport,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// How often presence is written to the store while an agent stays online.
const PERSIST_EVERY: Duration = Duration::from_secs(60);

/// Runs an enrolled agent's connection until it ends.
///
/// # Errors
/// Protocol breaches and lost connections.
pub async fn serve(
    ctx: Arc<Ctx>,
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    machine_id: String,
) -> Result<(), ConnError> {
    let conn_id = ctx.hub.conn_id();
    let (tx, mut rx) = mpsc::unbounded_channel::<RelayToAgent>();
    let now_unix = unix_secs();
    ctx.hub.register_agent(
        &machine_id,
        conn_id,
        conn.clone(),
        tx.clone(),
        Instant::now(),
        now_unix,
    );
    info!("agent online");
    // Offers and session ends go before anything else the relay sends
    // the agent (input, credits).
    let _ = send.set_priority(CONTROL_PRIORITY);
    let stalled = conn.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let Ok(bytes) = lifeline_proto::encode_message(&msg, MAX_FRAME_LEN) else {
                continue;
            };
            match crate::server::write_unless_stalled(&mut send, &bytes).await {
                Ok(()) => {}
                Err(Some(())) => {
                    warn!("closing an agent that stopped reading");
                    stalled.close(
                        lifeline_proto::CloseCode::Protocol.code().into(),
                        b"the agent stopped reading",
                    );
                    break;
                }
                Err(None) => break,
            }
        }
    });
    let result = tokio::select! {
        r = read_loop(&ctx, &mut recv, &machine_id, conn_id, &tx) => r,
        r = read_uploads(&ctx, &conn, &machine_id, conn_id, &tx) => r,
        e = read_reports(&ctx, &conn, &machine_id, conn_id) => Err(e),
    };
    writer.abort();
    if let Some(seen) = ctx
        .hub
        .unregister_agent(&machine_id, conn_id, Instant::now())
    {
        let id = machine_id.clone();
        let _ = ctx.store.call(move |s| s.set_last_seen(&id, seen)).await;
    }
    info!("agent offline");
    result
}

/// Shortest time between two heartbeat answers to one agent.
const MIN_ACK_GAP: std::time::Duration = std::time::Duration::from_millis(50);

/// When a connection last did what it does now and then.
struct Times {
    /// Wrote its last-seen time to the store.
    persist: Instant,
    /// Answered a heartbeat.
    ack: Option<Instant>,
}

impl Times {
    fn new() -> Self {
        Self {
            persist: Instant::now(),
            ack: None,
        }
    }
}

async fn read_loop(
    ctx: &Ctx,
    recv: &mut quinn::RecvStream,
    machine_id: &str,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToAgent>,
) -> Result<(), ConnError> {
    let mut times = Times::new();
    while let Some(msg) = read_msg::<AgentToRelay>(recv, MAX_FRAME_LEN).await? {
        handle_marked(ctx, msg, machine_id, conn_id, tx, &mut times).await?;
    }
    Ok(())
}

/// Handles one message. Inventory goes through the store, which may be
/// busy with the rest of the fleet: the agent is marked busy meanwhile, so
/// that the wait does not make it look dead.
async fn handle_marked(
    ctx: &Ctx,
    msg: AgentToRelay,
    machine_id: &str,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToAgent>,
    times: &mut Times,
) -> Result<(), ConnError> {
    let now = Instant::now();
    let slow = matches!(
        msg,
        AgentToRelay::InventoryHashes(_) | AgentToRelay::InventoryData(_)
    );
    if slow {
        ctx.hub
            .agent_busy(machine_id, conn_id, true, now, unix_secs());
    }
    let result = handle(ctx, msg, machine_id, conn_id, tx, now, times).await;
    if slow {
        ctx.hub
            .agent_busy(machine_id, conn_id, false, Instant::now(), unix_secs());
    }
    result
}

/// Session reports: each on a bidirectional stream the agent opens at
/// [`lifeline_proto::REPORT_PRIORITY`], one report a stream, read beside
/// everything else (a report never waits for an inventory upload), at most
/// [`REPORTS_AT_ONCE`] at a time and each within [`REPORT_READ_LIMIT`]. The
/// relay answers one byte, [`lifeline_proto::REPORT_KEPT`] or
/// [`lifeline_proto::REPORT_UNWANTED`], and finishes: the agent's proof of
/// delivery. A report it cannot read is refused with
/// [`lifeline_proto::REPORT_REFUSED`] (the agent drops it); another message
/// there closes the connection. A session's log waits while any is read.
async fn read_reports(
    ctx: &Arc<Ctx>,
    conn: &quinn::Connection,
    machine_id: &str,
    conn_id: u64,
) -> ConnError {
    let permits = Arc::new(tokio::sync::Semaphore::new(REPORTS_AT_ONCE));
    let mut reading = tokio::task::JoinSet::new();
    loop {
        let (accepted, permit) = tokio::select! {
            s = async {
                let permit = permits.clone().acquire_owned().await;
                (conn.accept_bi().await, permit)
            } => s,
            Some(joined) = reading.join_next(), if !reading.is_empty() => {
                if let Ok(Err(e)) = joined {
                    return e;
                }
                continue;
            }
        };
        let (mut send, mut recv) = match accepted {
            Ok(s) => s,
            Err(e) => return ConnError::Lost(e.to_string()),
        };
        let Ok(permit) = permit else {
            return ConnError::Lost("report permits closed".into());
        };
        let marked = Reading::start(ctx.clone(), conn_id);
        let machine = machine_id.to_string();
        reading.spawn(async move {
            let _permit = permit;
            let read = tokio::time::timeout(
                REPORT_READ_LIMIT,
                read_msg::<AgentToRelay>(&mut recv, REPORT_FRAME_LEN),
            )
            .await;
            let answer = match read {
                Ok(Ok(Some(AgentToRelay::SessionReport(report)))) => {
                    if keep_report(&marked.0.hub, conn_id, &machine, report) {
                        lifeline_proto::REPORT_KEPT
                    } else {
                        lifeline_proto::REPORT_UNWANTED
                    }
                }
                Ok(Ok(Some(_))) => {
                    return Err(ConnError::Protocol(
                        "only a session report goes on a report stream".into(),
                    ));
                }
                Ok(Err(e)) if e.is_protocol() => {
                    warn!("unreadable session report: {e}");
                    let _ = send.reset(u32::from(lifeline_proto::REPORT_REFUSED).into());
                    return Ok(());
                }
                // Cut off, or too slow: the agent sends it again later.
                Ok(Ok(None) | Err(_)) | Err(_) => {
                    let _ = send.reset(0u32.into());
                    return Ok(());
                }
            };
            let _ = send.write_all(&[answer]).await;
            let _ = send.finish();
            Ok(())
        });
    }
}

/// Report streams of one agent connection read at once; more wait.
const REPORTS_AT_ONCE: usize = 4;
/// Longest a report may take to arrive: 4 MiB at 0.5 Mbit/s.
const REPORT_READ_LIMIT: Duration = Duration::from_secs(120);
/// Largest report message read: the agent cuts reports to
/// [`lifeline_proto::session_log::MAX_REPORT_BYTES`].
const REPORT_FRAME_LEN: usize = lifeline_proto::session_log::MAX_REPORT_BYTES + 64 * 1024;

/// A report stream being read, counted in the hub until dropped (read,
/// failed, or aborted with its connection).
struct Reading(Arc<Ctx>, u64);

impl Reading {
    fn start(ctx: Arc<Ctx>, conn_id: u64) -> Self {
        ctx.hub.reporting(conn_id, true);
        Self(ctx, conn_id)
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.hub.reporting(self.1, false);
    }
}

/// Keeps an agent's report of a session, bounded whatever the agent sent
/// (the newest chat lines and clipboard events, as the agent cuts it).
fn keep_report(
    hub: &crate::hub::Hub,
    conn_id: u64,
    machine_id: &str,
    mut report: SessionReport,
) -> bool {
    report.clean();
    report.bound();
    hub.note_report(conn_id, machine_id, report)
}

/// Inventory uploads: each on a unidirectional stream the agent opens at
/// [`lifeline_proto::BULK_PRIORITY`], so that a full upload queues behind its screen
/// frames and control messages. Only `InventoryData` may go there.
async fn read_uploads(
    ctx: &Ctx,
    conn: &quinn::Connection,
    machine_id: &str,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToAgent>,
) -> Result<(), ConnError> {
    let mut times = Times::new();
    loop {
        let mut recv = conn
            .accept_uni()
            .await
            .map_err(|e| ConnError::Lost(e.to_string()))?;
        while let Some(msg) = read_msg::<AgentToRelay>(&mut recv, MAX_FRAME_LEN).await? {
            if !matches!(msg, AgentToRelay::InventoryData(_)) {
                return Err(ConnError::Protocol(
                    "only inventory data goes on an upload stream".into(),
                ));
            }
            handle_marked(ctx, msg, machine_id, conn_id, tx, &mut times).await?;
        }
    }
}

/// Handles one message of an agent's control stream (or upload stream).
async fn handle(
    ctx: &Ctx,
    msg: AgentToRelay,
    machine_id: &str,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToAgent>,
    now: Instant,
    times: &mut Times,
) -> Result<(), ConnError> {
    match msg {
        AgentToRelay::Heartbeat { seq } => {
            let now_unix = unix_secs();
            ctx.hub.heartbeat(machine_id, conn_id, now, now_unix);
            // An agent heartbeating far faster than any does gets fewer
            // answers, so that they cannot pile up unread.
            if times
                .ack
                .is_none_or(|at| now.duration_since(at) >= MIN_ACK_GAP)
            {
                times.ack = Some(now);
                let _ = tx.send(RelayToAgent::HeartbeatAck {
                    seq,
                    server_time_us: unix_micros(),
                });
            }
            if now.duration_since(times.persist) >= PERSIST_EVERY {
                times.persist = now;
                let id = machine_id.to_string();
                // Presence is in memory; its copy on disk may wait for space
                // (a full disk must not cut every agent off).
                if let Err(e) = ctx
                    .store
                    .call(move |s| s.set_last_seen(&id, now_unix))
                    .await
                {
                    warn!("cannot record last-seen time: {e}");
                }
            }
        }
        AgentToRelay::Info(info) => {
            let info = info.cleaned();
            let id = machine_id.to_string();
            let now_unix = unix_secs();
            ctx.store
                .call(move |s| s.update_machine_info(&id, &info, now_unix))
                .await?;
        }
        AgentToRelay::SessionAnswer { session, decision } => {
            let decision = decision.cleaned();
            let opened = ctx
                .hub
                .answer(conn_id, session, decision, now)
                .map_err(|e| ConnError::Protocol(e.to_string()))?;
            // Kept until the log is written, so a crash cannot lose it.
            if let Some(open) = opened
                && let Err(e) = ctx.store.call(move |s| s.session_opened(&open)).await
            {
                warn!(session, "cannot record the session as open: {e}");
            }
        }
        AgentToRelay::EndSession { session, reason } => {
            let reason = reason.cleaned();
            if ctx.hub.agent_owns(conn_id, session) {
                info!(session, %reason, "agent ended session");
                ctx.hub.end(session, reason, now);
            }
        }
        AgentToRelay::RequestHelp(_) => {
            return Err(ConnError::Protocol(
                "help requests go on a request connection".into(),
            ));
        }
        AgentToRelay::Enroll { .. } => {
            return Err(ConnError::Protocol(
                "enroll request from an enrolled machine".into(),
            ));
        }
        AgentToRelay::InputRefused { session, total } => {
            ctx.hub.note_refused(conn_id, session, total);
        }
        AgentToRelay::SessionReport(report) => {
            // Agents of protocol version 1 send it here.
            keep_report(&ctx.hub, conn_id, machine_id, report);
        }
        AgentToRelay::PermissionChanged {
            session,
            permission,
        } => {
            let outcome = ctx.hub.permission_changed(conn_id, session, permission);
            if outcome == crate::hub::PermissionOutcome::TooMany {
                return Err(ConnError::Protocol(format!(
                    "more than {} permission changes in session {session}",
                    crate::hub::MAX_PERMISSION_CHANGES
                )));
            }
            if let crate::hub::PermissionOutcome::Changed {
                machine,
                technician,
            } = outcome
            {
                info!(
                    session,
                    ?permission,
                    "the user changed the session's permission"
                );
                ctx.audit(crate::audit::NewEntry::new(
                    "user",
                    "session-permission",
                    &machine,
                    format!("session {session} of {technician}: now {permission:?}"),
                ))
                .await;
            }
        }
        AgentToRelay::InventoryHashes(hashes) => {
            let id = machine_id.to_string();
            let categories = ctx
                .store
                .call_batched(move |s| crate::inventory::wanted(s, &id, &hashes))
                .await?;
            let _ = tx.send(RelayToAgent::InventoryWanted { categories });
        }
        AgentToRelay::InventoryData(data) => {
            let id = machine_id.to_string();
            let category = data.category.clone();
            let size = data.json.len();
            let now_unix = unix_secs();
            // Read on the lookup connection, parse and diff on a worker
            // thread, and only write on the store's thread.
            let (rid, cat) = (id.clone(), category.clone());
            let before = ctx
                .lookups
                .call(move |s| crate::inventory::previous(s, &rid, &cat))
                .await?;
            let prepared = tokio::task::spawn_blocking(move || {
                crate::inventory::prepare(&data, before, now_unix)
            })
            .await
            .map_err(|e| ConnError::Lost(format!("inventory worker: {e}")))?;
            let prepared = match prepared {
                Ok(p) => p,
                Err(crate::inventory::IngestError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(ConnError::Protocol(e.to_string())),
            };
            // A store that cannot write (a full disk) keeps the agent
            // connected, its sessions and presence going: the category's
            // hash is unchanged, so the relay asks for it again later.
            if let Err(e) = ctx
                .store
                .call_batched(move |s| crate::inventory::write(s, &id, &prepared))
                .await
            {
                warn!(%category, "inventory not stored, asked again later: {e}");
                return Ok(());
            }
            info!(%category, bytes = size, "inventory stored");
        }
    }
    Ok(())
}
