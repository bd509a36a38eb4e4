//! `lifeline-bench ping`: the relay hop's cost, measured against a direct
//! QUIC connection in the same run.

use crate::stage::Stage;
use lifeline::ping::{PingStats, ping, probe_stream, quantile};
use lifeline_net::e2e;
use lifeline_net::tls;
use serde::Serialize;
use std::time::Duration;

/// Round-trip figures for one path.
#[derive(Debug, Serialize)]
pub struct PathFigures {
    pub path: String,
    pub samples: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
pub struct PingReport {
    pub probe_bytes: usize,
    pub relay: PathFigures,
    pub direct: PathFigures,
    pub added_p50_us: f64,
    pub added_p99_us: f64,
}

fn figures(path: &str, mut samples: Vec<Duration>) -> PathFigures {
    samples.sort();
    let us = |d: Duration| d.as_nanos() as f64 / 1000.0;
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len().max(1) as f64;
    PathFigures {
        path: path.to_string(),
        samples: samples.len(),
        p50_us: us(quantile(&samples, 0.5)),
        p99_us: us(quantile(&samples, 0.99)),
        mean_us: mean,
    }
}

/// A QUIC echo server with the relay's TLS configuration and the same
/// end-to-end encryption: what a console would see talking to an agent with
/// no relay in between.
async fn direct_echo(
    cert: Vec<u8>,
    key: Vec<u8>,
    keys: (e2e::KeyPair, e2e::KeyPair),
) -> anyhow::Result<(quinn::Endpoint, std::net::SocketAddr)> {
    let (agent_keys, console_keys) = keys;
    let server = tls::server_config(cert, key)?;
    let endpoint = quinn::Endpoint::server(server, "127.0.0.1:0".parse()?)?;
    let addr = endpoint.local_addr()?;
    let ep = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = ep.accept().await {
            let (agent_keys, console_keys) = (agent_keys.clone(), console_keys.clone());
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((send, recv)) = conn.accept_bi().await {
                    let (private, remote) =
                        (agent_keys.private.clone(), console_keys.public.clone());
                    tokio::spawn(async move {
                        let Ok((mut send, mut recv)) =
                            e2e::respond(send, recv, &private, &remote, b"direct").await
                        else {
                            return;
                        };
                        while let Ok(Some(bytes)) = recv.read_record().await {
                            if send.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
        }
    });
    Ok((endpoint, addr))
}

/// Runs `rounds` alternating rounds of `per_round` probes over each path.
///
/// # Errors
/// Setup or stream failures.
pub async fn run(count: u32) -> anyhow::Result<PingReport> {
    let mut stage = Stage::start().await?;
    let agent = stage.spawn_agent("bench-agent").await?;
    let (cert, key) = stage.cert_and_key()?;
    let agent_keys = e2e::generate_keypair()?;
    let console_keys = e2e::generate_keypair()?;
    let (_server, direct_addr) =
        direct_echo(cert, key, (agent_keys.clone(), console_keys.clone())).await?;
    let (_ep, conn) = lifeline_net::connect(&direct_addr.to_string(), &stage.fingerprint).await?;
    let (send, recv) = conn.open_bi().await?;
    let (mut dsend, mut drecv) = e2e::initiate(
        send,
        recv,
        &console_keys.private,
        &agent_keys.public,
        b"direct",
    )
    .await?;

    // Warm both paths up: handshakes, congestion windows, caches.
    ping(&mut stage.admin, &agent.machine_id, 200).await?;
    probe_stream(&mut dsend, &mut drecv, 200)
        .await
        .map_err(anyhow::Error::msg)?;

    // Alternate so that drift in machine load hits both paths alike.
    let rounds = 10u32;
    let per_round = (count / rounds).max(1);
    let mut relay_samples = Vec::new();
    let mut direct_samples = Vec::new();
    for _ in 0..rounds {
        let PingStats { samples } = ping(&mut stage.admin, &agent.machine_id, per_round).await?;
        relay_samples.extend(samples);
        let PingStats { samples } = probe_stream(&mut dsend, &mut drecv, per_round)
            .await
            .map_err(anyhow::Error::msg)?;
        direct_samples.extend(samples);
    }
    let relay = figures("console → relay → agent → relay → console", relay_samples);
    let direct = figures("console → peer → console (direct QUIC)", direct_samples);
    Ok(PingReport {
        probe_bytes: lifeline::ping::PROBE,
        added_p50_us: relay.p50_us - direct.p50_us,
        added_p99_us: relay.p99_us - direct.p99_us,
        relay,
        direct,
    })
}

/// The report as a Markdown table.
pub fn markdown(r: &PingReport) -> String {
    let mut s = format!(
        "| path ({} B probes) | samples | p50 µs | p99 µs | mean µs |\n|---|---:|---:|---:|---:|\n",
        r.probe_bytes
    );
    for f in [&r.relay, &r.direct] {
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} |\n",
            f.path, f.samples, f.p50_us, f.p99_us, f.mean_us
        ));
    }
    s.push_str(&format!(
        "\nrelay hop adds: p50 {:.0} µs, p99 {:.0} µs (targets: < 300 µs, < 1000 µs)\n",
        r.added_p50_us, r.added_p99_us
    ));
    s
}
