//! `lifeline ping`: round trips through the relay to an agent and back.

use crate::client::{Client, ClientError};
use lifeline_net::e2e::{SecureRecv, SecureSend};
use lifeline_proto::{Channel, ConsoleReply, ConsoleRequest, Permission, SessionPurpose};
use std::time::{Duration, Instant};

/// Bytes in one probe.
pub const PROBE: usize = 64;

/// Round-trip times, sorted.
#[derive(Clone, Debug)]
pub struct PingStats {
    pub samples: Vec<Duration>,
}

impl PingStats {
    /// The `q` quantile (0.0–1.0), nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.samples, q)
    }
}

/// Nearest-rank quantile of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Sends `count` probes of [`PROBE`] bytes over one stream, one at a time,
/// and measures each echo.
///
/// # Errors
/// Stream failures, or an echo that differs from the probe.
pub async fn probe_stream(
    send: &mut SecureSend,
    recv: &mut SecureRecv,
    count: u32,
) -> Result<PingStats, String> {
    let mut samples = Vec::with_capacity(count as usize);
    let mut probe = [0u8; PROBE];
    for i in 0..count {
        probe[..4].copy_from_slice(&i.to_be_bytes());
        let t = Instant::now();
        send.write_all(&probe).await.map_err(|e| e.to_string())?;
        let echo = recv
            .read_record()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the agent ended the ping stream")?;
        samples.push(t.elapsed());
        if echo != probe {
            return Err(format!("echo {i} differs from the probe"));
        }
    }
    samples.sort();
    Ok(PingStats { samples })
}

/// Opens a ping session with `machine` and measures `count` round trips.
///
/// # Errors
/// The relay's refusal (offline, forbidden, unknown) or stream failures.
pub async fn ping(
    client: &mut Client,
    machine: &str,
    count: u32,
) -> Result<PingStats, ClientError> {
    let reply = client
        .request(ConsoleRequest::OpenSession {
            machine: machine.to_string(),
            purpose: SessionPurpose::Ping,
            permission: Permission::View,
            ticket: None,
        })
        .await?;
    let ConsoleReply::SessionOpened { session, .. } = reply else {
        return Err(ClientError::Unexpected(format!("{reply:?}")));
    };
    let (mut send, mut recv) = client.open_stream(session, Channel::Ping).await?;
    let stats = match probe_stream(&mut send, &mut recv, count).await {
        Ok(stats) => stats,
        Err(e) => {
            // Dropped, the halves reset the stream (with the integrity code
            // when that was the trouble); a moment lets that reach the
            // agent before this program ends the connection.
            drop((send, recv));
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            return Err(ClientError::Unexpected(e));
        }
    };
    send.finish();
    client
        .request(ConsoleRequest::CloseSession { session })
        .await?;
    Ok(stats)
}
