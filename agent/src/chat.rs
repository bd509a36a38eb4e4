//! The chat stream of a session: the technician's lines go to the user's
//! indicator window, the user's lines (and notices) come back.

use crate::session::StreamRequest;
use crate::streams::StreamCtx;
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{
    SessionId,
    chat::{ChatMsg, MAX_CHAT_LEN, MAX_CLIPBOARD_TEXT, check_text},
};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, warn};

/// Serves one chat stream until either side closes it or the session ends.
pub async fn serve(session: SessionId, mut send: SecureSend, mut recv: SecureRecv, ctx: StreamCtx) {
    let StreamCtx {
        mut state,
        technician,
        from_user,
        requests,
        ..
    } = ctx;
    let mut from_user = from_user.subscribe();
    loop {
        tokio::select! {
            msg = recv.read_msg::<ChatMsg>(MAX_CHAT_LEN) => match msg {
                Ok(Some(ChatMsg::Text { text, .. })) => match check_text(&text) {
                    // The agent, not the console, says who wrote it.
                    Ok(()) => {
                        let _ = requests.send((session, StreamRequest::Chat { from: technician.clone(), text }));
                    }
                    Err(why) => {
                        let reply = ChatMsg::Notice { text: format!("not delivered: {why}") };
                        if send.write_msg(&reply, MAX_CHAT_LEN).await.is_err() {
                            break;
                        }
                    }
                },
                Ok(Some(ChatMsg::Clipboard { text })) => {
                    if text.len() <= MAX_CLIPBOARD_TEXT {
                        let _ = requests.send((session, StreamRequest::Clipboard(text)));
                    }
                }
                Ok(Some(ChatMsg::AskControl)) => {
                    let _ = requests.send((session, StreamRequest::AskControl));
                }
                Ok(Some(other)) => debug!(session, ?other, "chat message ignored"),
                Ok(None) => break,
                Err(e) => {
                    warn!(session, "chat stream: {e}");
                    break;
                }
            },
            line = from_user.recv() => match line {
                Ok(m) => {
                    if send.write_msg(&m, MAX_CHAT_LEN).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => warn!(session, n, "chat lines dropped"),
                Err(RecvError::Closed) => break,
            },
            () = crate::session::ended(&mut state) => {
                send.finish();
                break;
            }
        }
    }
}
