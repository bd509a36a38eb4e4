//! Byte-for-byte splicing of a console stream to an agent stream.

use crate::hub::SessionStats;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// Largest chunk moved at once.
const CHUNK: usize = 64 * 1024;

/// Copies `recv` to `send` until `recv` finishes, counting bytes. A reset
/// on either side resets the other (with the same code, so an end-to-end
/// integrity stop reaches the sender). `flip_at`: the tampering test hook.
async fn pump(
    mut recv: quinn::RecvStream,
    mut send: quinn::SendStream,
    counter: &AtomicU64,
    flip_at: Option<u64>,
) {
    let mut offset = 0u64;
    loop {
        let read = tokio::select! {
            r = recv.read_chunk(CHUNK, true) => r,
            // The receiver stopped reading (an end-to-end check failed, or
            // it is done): tell the sender, with the same code.
            stopped = send.stopped() => {
                let code = stopped.ok().flatten().unwrap_or(0u32.into());
                let _ = recv.stop(code);
                return;
            }
        };
        match read {
            Ok(Some(chunk)) => {
                let n = chunk.bytes.len() as u64;
                let mut bytes = chunk.bytes;
                if let Some(at) = flip_at
                    && (offset..offset + n).contains(&at)
                {
                    let mut copy = bytes.to_vec();
                    copy[(at - offset) as usize] ^= 0x01;
                    bytes = copy.into();
                    tracing::warn!(at, "test hook: flipped one spliced byte");
                }
                offset += n;
                if let Err(e) = send.write_chunk(bytes).await {
                    let code = match e {
                        quinn::WriteError::Stopped(code) => code,
                        _ => 0u32.into(),
                    };
                    let _ = recv.stop(code);
                    return;
                }
                counter.fetch_add(n, Ordering::Relaxed);
            }
            Ok(None) => {
                let _ = send.finish();
                return;
            }
            Err(e) => {
                let code = match e {
                    quinn::ReadError::Reset(code) => code,
                    _ => 0u32.into(),
                };
                let _ = send.reset(code);
                return;
            }
        }
    }
}

/// Joins two bidirectional streams until both directions are done or the
/// session ends.
pub async fn splice(
    console: (quinn::SendStream, quinn::RecvStream),
    agent: (quinn::SendStream, quinn::RecvStream),
    stats: &SessionStats,
    mut ended: watch::Receiver<bool>,
    flip_at: Option<u64>,
) {
    let (c_send, c_recv) = console;
    let (a_send, a_recv) = agent;
    let both = async {
        tokio::join!(
            pump(c_recv, a_send, &stats.to_agent, None),
            pump(a_recv, c_send, &stats.to_console, flip_at)
        )
    };
    tokio::select! {
        _ = both => {}
        _ = ended.wait_for(|e| *e) => {}
    }
}
