//! Sessions the agent takes part in, and the streams they carry.

use lifeline_net::framed::read_frame;
use lifeline_proto::{
    Channel, Decision, MAX_HEADER_FRAME_LEN, SessionId, SessionOffer, SessionPurpose, StreamHeader,
};
use std::{collections::HashMap, time::Duration};
use tracing::{debug, info, warn};

/// Sessions accepted and not yet closed.
#[derive(Debug, Default)]
pub struct Sessions {
    live: HashMap<SessionId, SessionOffer>,
    /// Screen sessions may start without asking (servers, kiosks, tests).
    pub unattended: bool,
}

impl Sessions {
    /// No sessions yet; `unattended` lets screen sessions start unasked.
    pub fn new(unattended: bool) -> Self {
        Self {
            live: HashMap::new(),
            unattended,
        }
    }

    /// Decides on an offer. Ping sessions carry no user data and are always
    /// accepted. Screen sessions are accepted when this machine allows
    /// unattended access; otherwise they need the user's consent, which this
    /// agent cannot ask for yet, so they are declined with that reason.
    pub fn decide(&mut self, offer: SessionOffer) -> Decision {
        let accept = match offer.purpose {
            SessionPurpose::Ping => true,
            SessionPurpose::Screen => self.unattended || offer.unattended,
        };
        if !accept {
            return Decision::Decline {
                reason:
                    "this machine requires the user's consent and no consent prompt is available"
                        .into(),
            };
        }
        info!(
            session = offer.session,
            technician = %offer.technician,
            purpose = ?offer.purpose,
            permission = ?offer.permission,
            "session accepted"
        );
        self.live.insert(offer.session, offer);
        Decision::Accept
    }

    /// Forgets a session the relay closed.
    pub fn close(&mut self, session: SessionId) {
        if self.live.remove(&session).is_some() {
            info!(session, "session closed");
        }
    }

    /// Is `session` live?
    pub fn is_live(&self, session: SessionId) -> bool {
        self.live.contains_key(&session)
    }

    /// What the technician of a live session may do.
    pub fn permission(&self, session: SessionId) -> Option<lifeline_proto::Permission> {
        self.live.get(&session).map(|o| o.permission)
    }
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
    pub permission: lifeline_proto::Permission,
    pub notes: tokio::sync::mpsc::UnboundedSender<lifeline_proto::AgentToRelay>,
}

/// Serves one accepted stream.
pub async fn serve_stream(
    header: StreamHeader,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ctx: StreamCtx,
) {
    match header.channel {
        Channel::Screen => crate::screen::serve(send, recv, ctx.capture).await,
        Channel::Input => {
            crate::input::serve(header.session, ctx.permission, send, recv, ctx.notes).await;
        }
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
        other => {
            warn!(?other, "channel not supported by this agent");
            let _ = send.reset(2u32.into());
            let _ = recv.stop(2u32.into());
        }
    }
}
