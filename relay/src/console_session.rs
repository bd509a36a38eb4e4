//! A console's sessions: offering them to agents, and splicing the
//! console's session streams to the agent once the user said yes.

use crate::{
    audit::NewEntry,
    console_conn::{Person, failure, internal, resolve_record},
    hub::OfferError,
    server::{ConnError, Ctx},
    splice,
};
use lifeline_net::framed::read_frame;
use lifeline_proto::{
    ConsoleReply, EndReason, ErrorCode, Failure, MAX_HEADER_FRAME_LEN, Permission, RelayToConsole,
    SessionOffer, SessionPurpose, StreamHeader,
    pairing::{DEFAULT_ANSWER_TIMEOUT, PairingEvent},
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

/// Accepts the console's session streams and splices each to the agent of
/// its session.
///
/// # Errors
/// A lost connection or a malformed stream header.
pub async fn accept_streams(
    ctx: &Arc<Ctx>,
    conn: &quinn::Connection,
    conn_id: u64,
) -> Result<(), ConnError> {
    loop {
        let (send, mut recv) = conn
            .accept_bi()
            .await
            .map_err(|e| ConnError::Lost(e.to_string()))?;
        let header = match tokio::time::timeout(
            Duration::from_secs(10),
            read_frame(&mut recv, MAX_HEADER_FRAME_LEN),
        )
        .await
        {
            Ok(Ok(Some(payload))) => lifeline_proto::decode_message::<StreamHeader>(&payload)
                .map_err(|e| ConnError::Protocol(format!("stream header: {e}")))?,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(ConnError::Protocol("no stream header within 10 s".into())),
        };
        let Some(route) = ctx.hub.route(conn_id, header.session) else {
            debug!(
                session = header.session,
                "stream for a session that is not active"
            );
            let mut send = send;
            let _ = send.reset(1u32.into());
            let _ = recv.stop(1u32.into());
            continue;
        };
        if !route.purpose.carries(header.channel)
            && !ctx
                .tamper
                .pass_any_channel
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            warn!(
                session = header.session,
                "refused a {:?} stream in a {:?} session", header.channel, route.purpose
            );
            let mut send = send;
            let _ = send.reset(lifeline_proto::streams::REFUSED_CHANNEL_CODE.into());
            let _ = recv.stop(lifeline_proto::streams::REFUSED_CHANNEL_CODE.into());
            continue;
        }
        let span = info_span!("stream", session = header.session, channel = ?header.channel);
        let flip_at = ctx.tamper.flip_at();
        tokio::spawn(
            async move {
                let Ok((mut a_send, a_recv)) = route.agent.open_bi().await else {
                    return;
                };
                let Ok(bytes) = lifeline_proto::encode_message(&header, MAX_HEADER_FRAME_LEN)
                else {
                    return;
                };
                if a_send.write_all(&bytes).await.is_err() {
                    return;
                }
                // Both ways, so the channel keeps its place on both links.
                // Fails only on a stream already closed; splicing ends it.
                let priority = header.channel.send_priority();
                let _ = a_send.set_priority(priority);
                let _ = send.set_priority(priority);
                route
                    .stats
                    .streams
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                splice::splice(
                    (send, recv),
                    (a_send, a_recv),
                    &route.stats,
                    route.ended,
                    flip_at,
                )
                .await;
            }
            .instrument(span),
        );
    }
}

#[allow(clippy::too_many_arguments)]
/// Offers a session to a machine's agent and waits for the answer.
///
/// # Errors
/// Role, visibility, offline, declined, timeout.
pub async fn open_session(
    ctx: &Ctx,
    person: &Person,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToConsole>,
    machine: &str,
    purpose: SessionPurpose,
    permission: Permission,
    ticket: Option<u64>,
) -> Result<ConsoleReply, Failure> {
    if !person.role.may_connect() {
        return Err(failure(
            ErrorCode::Forbidden,
            format!("{}s cannot open sessions", person.role),
        ));
    }
    if permission == Permission::Control && !purpose.may_control() {
        return Err(failure(
            ErrorCode::BadRequest,
            format!("control needs a screen session; a {purpose:?} session is view only"),
        ));
    }
    let record = resolve_record(ctx, person, machine).await?;
    let (machine_id, hostname) = (record.id.clone(), record.info.hostname.clone());
    let mid = machine_id.clone();
    let Some(mut machine_key) = ctx
        .lookups
        .call(move |s| s.machine_key(&mid))
        .await
        .map_err(internal)?
    else {
        return Err(failure(
            ErrorCode::BadRequest,
            format!(
                "{hostname} has no end-to-end key (enrolled by an older agent); enroll it again"
            ),
        ));
    };
    if let Some(own) = own_key_if(&ctx.tamper.swap_machine_key, "handing the console a key") {
        machine_key = own;
    }
    let technician_key = own_key_if(
        &ctx.tamper.swap_technician_key,
        "offering the machine a technician key",
    )
    .unwrap_or_else(|| person.e2e_key.clone());
    // The approval travels if it is for the key this login holds; machines
    // that require one check it themselves.
    let name = person.name.clone();
    let technician_cert = ctx
        .store
        .call(move |s| s.tech_cert(&name))
        .await
        .map_err(internal)?
        .filter(|c| c.key == person.e2e_key);
    let offer = SessionOffer {
        technician_key,
        technician_cert,
        unattended: record.unattended,
        session: 0,
        technician: person.name.clone(),
        role: person.role,
        purpose,
        permission,
        ticket,
        log_clipboard: ctx.log_clipboard.load(std::sync::atomic::Ordering::Relaxed),
    };
    let (session, deadline, answer) = ctx
        .hub
        .offer(
            offer,
            &machine_id,
            conn_id,
            tx.clone(),
            Instant::now(),
            DEFAULT_ANSWER_TIMEOUT,
        )
        .map_err(|OfferError::Offline| {
            failure(
                ErrorCode::MachineOffline,
                format!("machine offline: {hostname} ({machine_id})"),
            )
        })?;
    info!(session, machine = %machine_id, ?purpose, ?permission, "session offered");
    let event = tokio::select! {
        ev = answer => ev.unwrap_or(PairingEvent::Ended(EndReason::AgentDisconnected)),
        () = tokio::time::sleep_until(deadline.into()) => {
            ctx.hub
                .expire(session, Instant::now())
                .unwrap_or(PairingEvent::Ended(EndReason::Timeout))
        }
    };
    match event {
        PairingEvent::Started => {
            let permission = ctx.hub.permission(session).unwrap_or(permission);
            info!(session, ?permission, "session started");
            ctx.audit(NewEntry::new(
                &person.name,
                "session-started",
                &machine_id,
                format!(
                    "session {session}, {purpose:?}, {permission:?}, ticket {}",
                    ticket.map_or_else(|| "-".to_string(), |t| t.to_string())
                ),
            ))
            .await;
            Ok(ConsoleReply::SessionOpened {
                session,
                machine_id,
                hostname,
                permission,
                machine_key,
            })
        }
        PairingEvent::Ended(reason) => {
            info!(session, %reason, "session not started");
            let code = match reason {
                EndReason::Declined(_) => ErrorCode::Declined,
                EndReason::Timeout => ErrorCode::Timeout,
                _ => ErrorCode::MachineOffline,
            };
            let message = match reason {
                EndReason::AgentDisconnected => "machine offline".to_string(),
                other => other.to_string(),
            };
            Err(failure(code, message))
        }
    }
}

/// A test hook: a key of the relay's own, when `switch` is on.
fn own_key_if(switch: &std::sync::atomic::AtomicBool, what: &str) -> Option<Vec<u8>> {
    if !switch.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    warn!(session = "new", "test hook: {what} of the relay's own");
    Some(
        lifeline_net::e2e::generate_keypair()
            .map(|k| k.public)
            .unwrap_or_default(),
    )
}
