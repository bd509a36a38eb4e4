//! One-request agent connections: an enrollment (a token becomes a
//! machine, its credential and its end-to-end key) and a help request (a
//! ticket with the machine's inventory and the user's screenshot).

use crate::{auth, server::ConnError, server::Ctx};
use lifeline_net::{read_msg, unix_secs, write_msg};
use lifeline_proto::{AgentToRelay, CloseCode, ErrorCode, MAX_FRAME_LEN, RelayToAgent};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// Serves a one-request agent connection: a help request becomes a ticket
/// with the machine's inventory snapshot and the optional screenshot.
///
/// # Errors
/// Protocol breaches, lost connections and store failures.
pub async fn serve_request(
    ctx: Arc<Ctx>,
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    machine_id: String,
) -> Result<(), ConnError> {
    let req = match read_msg::<AgentToRelay>(&mut recv, MAX_FRAME_LEN).await? {
        Some(AgentToRelay::RequestHelp(req)) => req.cleaned(),
        Some(_) => {
            return Err(ConnError::Protocol(
                "only help requests are allowed on a request connection".into(),
            ));
        }
        None => return Ok(()),
    };
    if let Some(why) = req.problem() {
        return Err(ConnError::Protocol(format!("help request refused: {why}")));
    }
    let allowed = {
        let mut limiter = ctx
            .help_limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        limiter
            .allow(&machine_id, Instant::now())
            .map_err(|wait| (limiter.per_hour(), wait))
    };
    if let Err((per_hour, wait)) = allowed {
        warn!("help request refused: too many from this machine");
        return Err(ConnError::Protocol(format!(
            "help request refused: this machine asked for help {per_hour} times in the last \
             hour, and the help desk has every one; try again in {} min",
            wait.as_secs().div_ceil(60).max(1)
        )));
    }
    let now = unix_secs();
    let id = machine_id.clone();
    let requester = req.requester.clone();
    let ticket = ctx
        .store
        .call(move |s| {
            // The ticket with what the user sent, or nothing (and the
            // agent is told the request failed).
            crate::store::atomically(s, |s| {
                let ticket = s.create_ticket(&id, &req, now)?;
                let (inv, present, _) = crate::inventory::load(s, &id)?;
                if present && let Ok(json) = serde_json::to_vec(&inv) {
                    s.attach(ticket, "inventory", "inventory.json", &json, now)?;
                }
                if !req.screenshot_png.is_empty() {
                    s.attach(
                        ticket,
                        "screenshot",
                        "screenshot.png",
                        &req.screenshot_png,
                        now,
                    )?;
                }
                Ok(ticket)
            })
        })
        .await?;
    info!(ticket, "help requested");
    crate::notify::ticket_changed(&ctx, ticket).await;
    // The actor is the machine, whose credential the relay checked; the
    // name the user gave is the agent's word, so it goes in the details
    // (an agent cannot write entries that `audit --actor alice` lists).
    ctx.audit(crate::audit::NewEntry::new(
        &format!("machine:{machine_id}"),
        "ticket-created",
        &format!("ticket {ticket}"),
        format!("requested by {requester:?}"),
    ))
    .await;
    write_msg(
        &mut send,
        &RelayToAgent::TicketOpened { ticket },
        MAX_FRAME_LEN,
    )
    .await?;
    let _ = send.finish();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
    Ok(())
}

/// Runs an enrollment: one `Enroll` request, one answer, then the
/// connection is closed.
///
/// # Errors
/// Protocol breaches, lost connections and store failures.
pub async fn enroll(
    ctx: Arc<Ctx>,
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    token_hash: [u8; 32],
) -> Result<(), ConnError> {
    let (info, e2e_key) = match read_msg::<AgentToRelay>(&mut recv, MAX_FRAME_LEN).await? {
        Some(AgentToRelay::Enroll { info, e2e_key }) => (info.cleaned(), e2e_key),
        Some(_) => {
            return Err(ConnError::Protocol(
                "expected an enroll request on an enrollment connection".into(),
            ));
        }
        None => return Ok(()),
    };
    let machine_id = new_machine_id();
    let credential = auth::new_token("llm_");
    let cred_hash = auth::token_hash(&credential);
    let now = unix_secs();
    if e2e_key.len() != lifeline_net::e2e::KEY_LEN {
        return Err(ConnError::Protocol(format!(
            "enrollment without a {}-byte end-to-end key",
            lifeline_net::e2e::KEY_LEN
        )));
    }
    let id = machine_id.clone();
    let stored_info = info.clone();
    let record = ctx
        .store
        .call(move |s| {
            // The token's use, the machine and its key, or none of them.
            crate::store::atomically(s, |s| {
                let record = s.enroll(&token_hash, &id, &cred_hash, &stored_info, now)?;
                if record.is_some() {
                    s.set_machine_key(&id, &e2e_key)?;
                }
                Ok(record)
            })
        })
        .await?;
    let reply = match record {
        Some(m) => {
            info!(machine = %m.id, hostname = %info.hostname, group = ?m.group, "machine enrolled");
            ctx.audit(crate::audit::NewEntry::new(
                "enrollment",
                "machine-enrolled",
                &m.id,
                format!(
                    "hostname {}, os {}, group {}",
                    info.hostname,
                    info.os,
                    m.group.as_deref().unwrap_or("-")
                ),
            ))
            .await;
            RelayToAgent::Enrolled {
                machine_id,
                credential: lifeline_proto::Secret::new(credential),
            }
        }
        None => {
            warn!(hostname = %info.hostname, "enrollment refused: token used up or expired");
            RelayToAgent::EnrollFailed {
                code: ErrorCode::EnrollTokenInvalid,
                message: "enrollment token invalid or expired".into(),
            }
        }
    };
    write_msg(&mut send, &reply, MAX_FRAME_LEN).await?;
    let _ = send.finish();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
    conn.close(CloseCode::Normal.code().into(), b"enrolled");
    Ok(())
}

/// A machine id: 12 lower-case hex digits, short enough to read out over
/// the phone, long enough not to collide in any realistic fleet.
fn new_machine_id() -> String {
    auth::new_token("")[..12].to_string()
}
