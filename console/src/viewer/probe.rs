//! Probes of the path's round trip beside a screen stream: an eight-byte
//! echo on a ping stream of the same session, at the priority of input,
//! every [`PROBE_INTERVAL_US`] while frames arrive (an idle screen sends
//! nothing). Frames alone can only lower the viewer's estimate of the
//! round trip (see [`lifeline_proto::view::CreditWindow`]); the probes let
//! it rise with a path that got longer, and the credit window with it.
//! Each result carries the screen bytes that arrived while the probe was
//! out, so that one held up behind the stream's own frames is not taken
//! for the path.

use crate::client::ClientError;
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::view::PROBE_INTERVAL_US;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{oneshot, watch};
use tracing::{debug, warn};

/// The probing task of one screen stream; it ends, closing its stream,
/// when this is dropped.
pub(crate) struct Prober {
    /// A probe's round trip (µs), and the screen bytes that came meanwhile.
    rtt: watch::Receiver<(u64, u64)>,
    /// Screen bytes decoded so far.
    screen: Arc<AtomicU64>,
    wire: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

impl Prober {
    /// Runs `handshake` (the ping stream's, see
    /// [`crate::client::Client::open_stream_later`]) and then the probes,
    /// in a task of their own.
    pub(crate) fn start(
        handshake: impl Future<Output = Result<(SecureSend, SecureRecv), ClientError>> + Send + 'static,
    ) -> Self {
        let (tx, rtt) = watch::channel((0, 0));
        let (stop_tx, stop) = oneshot::channel();
        let screen = Arc::new(AtomicU64::new(0));
        let wire = Arc::new(AtomicU64::new(0));
        let (f, w) = (screen.clone(), wire.clone());
        tokio::spawn(async move {
            let (send, recv) = match handshake.await {
                Ok(pair) => pair,
                Err(e) => {
                    debug!("no probes of the path: {e}");
                    return;
                }
            };
            run(send, recv, tx, f, w, stop).await;
        });
        Self {
            rtt,
            screen,
            wire,
            _stop: stop_tx,
        }
    }

    /// A frame of `bytes` arrived: probing goes on.
    pub(crate) fn on_frame(&self, bytes: usize) {
        self.screen.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The round trip, in microseconds, of a probe that came back since
    /// the last call, and the screen bytes that arrived while it was out.
    pub(crate) fn take(&mut self) -> Option<(u64, u64)> {
        self.rtt
            .has_changed()
            .unwrap_or(false)
            .then(|| *self.rtt.borrow_and_update())
    }

    /// Bytes the echoes took on the way back (framing and encryption
    /// included), counted with the screen's.
    pub(crate) fn wire_bytes(&self) -> u64 {
        self.wire.load(Ordering::Relaxed)
    }
}

async fn run(
    mut send: SecureSend,
    mut recv: SecureRecv,
    rtt: watch::Sender<(u64, u64)>,
    screen: Arc<AtomicU64>,
    wire: Arc<AtomicU64>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(Duration::from_micros(PROBE_INTERVAL_US));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut seen, mut n) = (0, 0u64);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        let before = screen.load(Ordering::Relaxed);
        if before == seen {
            continue;
        }
        n += 1;
        let probe = n.to_be_bytes();
        let sent = Instant::now();
        let echo = async {
            send.write_all(&probe).await?;
            recv.read_record().await
        };
        let echo = tokio::select! {
            _ = &mut stop => break,
            echo = echo => echo,
        };
        match echo {
            Ok(Some(e)) if e == probe => {}
            Ok(Some(_)) => {
                warn!("a probe's echo differs from the probe: no more probes");
                return;
            }
            Ok(None) => return,
            Err(e) if e.is_e2e() => {
                warn!("probe stream: {e}");
                return;
            }
            Err(e) => {
                debug!("probe stream ended: {e}");
                return;
            }
        }
        let took = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        wire.store(recv.wire_bytes(), Ordering::Relaxed);
        seen = screen.load(Ordering::Relaxed);
        if rtt.send((took, seen - before)).is_err() {
            break;
        }
    }
    send.finish();
}
