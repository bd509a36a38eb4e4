//! Byte-for-byte splicing of a console stream to an agent stream.

use crate::hub::SessionStats;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// Largest chunk moved at once.
const CHUNK: usize = 64 * 1024;

/// Copies `recv` to `send` until `recv` finishes, counting bytes. A reset
/// on either side resets the other.
async fn pump(mut recv: quinn::RecvStream, mut send: quinn::SendStream, counter: &AtomicU64) {
    loop {
        match recv.read_chunk(CHUNK, true).await {
            Ok(Some(chunk)) => {
                let n = chunk.bytes.len() as u64;
                if send.write_chunk(chunk.bytes).await.is_err() {
                    let _ = recv.stop(0u32.into());
                    return;
                }
                counter.fetch_add(n, Ordering::Relaxed);
            }
            Ok(None) => {
                let _ = send.finish();
                return;
            }
            Err(_) => {
                let _ = send.reset(0u32.into());
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
) {
    let (c_send, c_recv) = console;
    let (a_send, a_recv) = agent;
    let both = async {
        tokio::join!(
            pump(c_recv, a_send, &stats.to_agent),
            pump(a_recv, c_send, &stats.to_console)
        )
    };
    tokio::select! {
        _ = both => {}
        _ = ended.wait_for(|e| *e) => {}
    }
}
