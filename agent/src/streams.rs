//! The streams of a live session: the cleartext header the relay routes
//! by, the end-to-end handshake with the technician's console, then the
//! channel (screen, input, chat, ping).

use crate::journal::Journal;
use crate::session::{SessionState, StreamRequest};
use lifeline_net::framed::read_frame;
use lifeline_proto::{
    AgentToRelay, Channel, MAX_HEADER_FRAME_LEN, SessionId, StreamHeader, chat::ChatMsg,
};
use std::{sync::Arc, time::Duration};
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{debug, warn};

/// This machine's side of end-to-end encryption.
pub struct E2eIdentity {
    pub machine_id: String,
    pub private: Vec<u8>,
    /// The organisation's public key from enrollment: when set, a session's
    /// technician key must carry the organisation's approval.
    pub org_key: Option<Vec<u8>>,
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
    pub e2e: Option<Arc<E2eIdentity>>,
    pub technician_key: Vec<u8>,
    pub capture: crate::screen::CaptureFactory,
    pub state: watch::Receiver<SessionState>,
    pub notes: mpsc::UnboundedSender<AgentToRelay>,
    pub technician: String,
    pub from_user: broadcast::Sender<ChatMsg>,
    pub requests: mpsc::UnboundedSender<(SessionId, StreamRequest)>,
    pub journal: Journal,
}

/// Serves one accepted stream: the end-to-end handshake with the
/// technician's console first, then the channel.
pub async fn serve_stream(
    header: StreamHeader,
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ctx: StreamCtx,
) {
    let Some(me) = ctx.e2e.clone() else {
        warn!(
            session = header.session,
            "no end-to-end key: this machine must be enrolled again"
        );
        let _ = recv.stop(lifeline_net::e2e::INTEGRITY_CODE.into());
        return;
    };
    // Only fails on a stream already closed, which the handshake reports.
    let _ = send.set_priority(header.channel.send_priority());
    let prologue = lifeline_net::e2e::prologue(
        header.session,
        &format!("{:?}", header.channel),
        &me.machine_id,
    );
    let (mut send, mut recv) =
        match lifeline_net::e2e::respond(send, recv, &me.private, &ctx.technician_key, &prologue)
            .await
        {
            Ok(pair) => pair,
            Err(e) => {
                warn!(session = header.session, channel = ?header.channel, "{e}");
                return;
            }
        };
    match header.channel {
        Channel::Screen => {
            crate::screen::serve(send, recv, ctx.capture, ctx.state, ctx.journal).await;
        }
        Channel::Input => {
            crate::input::serve(header.session, ctx.state, send, recv, ctx.notes).await;
        }
        Channel::Chat => crate::chat::serve(header.session, send, recv, ctx).await,
        Channel::Ping => {
            // Echo every record back as it arrives.
            loop {
                match recv.read_record().await {
                    Ok(Some(bytes)) => {
                        if let Err(e) = send.write_all(&bytes).await {
                            if e.is_e2e() {
                                warn!(session = header.session, "ping stream: {e}");
                            } else {
                                debug!("ping stream ended: {e}");
                            }
                            return;
                        }
                    }
                    Ok(None) => {
                        send.finish();
                        return;
                    }
                    Err(e) => {
                        if e.is_e2e() {
                            warn!(session = header.session, "ping stream: {e}");
                        } else {
                            debug!("ping stream ended: {e}");
                        }
                        return;
                    }
                }
            }
        }
    }
}
