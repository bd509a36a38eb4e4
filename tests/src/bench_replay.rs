//! Screen sessions at full rate without the machines to encode them: each
//! simulated agent serves its sessions from a clip of 1080p typing frames
//! encoded once beforehand, paced at 60 fps and credited by the viewer as
//! a real agent is; the viewers are real [`ScreenStream`]s that decode
//! every frame. Everything goes through the relay with end-to-end
//! encryption, so the relay does exactly the work of real sessions, while
//! the benchmark's side costs a fraction of capturing and encoding.

use lifeline::{client::Client, viewer::stream::ScreenStream};
use lifeline_net::{Fingerprint, read_msg, unix_micros, write_msg};
use lifeline_proto::{
    AgentToRelay, Channel, Decision, MAX_FRAME_LEN, Permission, RelayToAgent, Secret,
    screen::{
        Encoder,
        synth::{Synth, Workload},
    },
    view::{AgentToViewer, CaptureTicks, MAX_SCREEN_FRAME_LEN, MonitorInfo, ViewerToAgent},
};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

/// The frames of `seconds` of synthetic typing at 60 fps: a key frame, then
/// deltas valid in order after it (replayed in a loop: the key frame
/// restarts the decoder, its cache and its compression stream).
#[must_use]
pub fn typing_clip(frames: usize) -> Vec<Vec<u8>> {
    let mut synth = Synth::full_hd(Workload::Typing, 11);
    let mut enc = Encoder::new();
    let mut clip = vec![enc.encode(synth.frame())];
    for _ in 0..frames {
        clip.push(enc.encode(synth.next_frame()));
    }
    clip
}

/// A simulated agent that accepts every session and serves screen streams
/// from `clip` until `stop`.
///
/// # Errors
/// Connection failures.
pub async fn replay_agent(
    addr: String,
    fp: Fingerprint,
    machine_id: String,
    secret: Secret,
    private: Vec<u8>,
    clip: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let (mut c, _) = crate::stage::agent_hello(
        &addr,
        &fp,
        machine_id.clone(),
        secret,
        "lifeline-bench replay",
    )
    .await?;
    let keys: Arc<Mutex<HashMap<u64, Vec<u8>>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                write_msg(&mut c.send, &AgentToRelay::Heartbeat { seq }, MAX_FRAME_LEN).await?;
            }
            msg = read_msg::<RelayToAgent>(&mut c.recv, MAX_FRAME_LEN) => match msg? {
                Some(RelayToAgent::SessionOffer(offer)) => {
                    keys.lock().map_err(|_| anyhow::anyhow!("poisoned"))?
                        .insert(offer.session, offer.technician_key.clone());
                    let answer = AgentToRelay::SessionAnswer { session: offer.session, decision: Decision::Accept };
                    write_msg(&mut c.send, &answer, MAX_FRAME_LEN).await?;
                }
                Some(_) => {}
                None => anyhow::bail!("relay closed the control stream"),
            },
            stream = c.conn.accept_bi() => {
                let (send, mut recv) = stream?;
                let header = lifeline_agent::streams::read_header(&mut recv).await.map_err(anyhow::Error::msg)?;
                let key = keys.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get(&header.session).cloned();
                if let (Some(key), Channel::Screen) = (key, header.channel) {
                    let prologue = lifeline_net::e2e::prologue(header.session, &format!("{:?}", header.channel), &machine_id);
                    let (private, clip, stop) = (private.clone(), clip.clone(), stop.clone());
                    tokio::spawn(async move {
                        if let Ok((send, recv)) = lifeline_net::e2e::respond(send, recv, &private, &key, &prologue).await {
                            let _ = serve_clip(send, recv, &clip, &stop).await;
                        }
                    });
                }
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    c.conn.close(0u32.into(), b"bench done");
    Ok(())
}

/// One screen stream: Ready, then the clip at 60 fps within the credits.
async fn serve_clip(
    mut send: lifeline_net::e2e::SecureSend,
    mut recv: lifeline_net::e2e::SecureRecv,
    clip: &[Vec<u8>],
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let Some(ViewerToAgent::Start {
        credits,
        viewer_time_us,
        ..
    }) = recv.read_msg::<ViewerToAgent>(4096).await?
    else {
        anyhow::bail!("no Start");
    };
    let ready_at = unix_micros();
    let ready = AgentToViewer::Ready {
        agent_start_us: ready_at,
        monitors: vec![MonitorInfo {
            index: 0,
            name: "replay".into(),
            x: 0,
            y: 0,
            width: 1920,
            height: 1080,
            primary: true,
        }],
        selected: None,
        viewer_time_us,
        agent_time_us: ready_at,
    };
    send.write_msg(&ready, MAX_SCREEN_FRAME_LEN).await?;
    let mut ticks = CaptureTicks::new(ready_at);
    let credit = Arc::new(AtomicU32::new(credits));
    let reader_credit = credit.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(msg)) = recv.read_msg::<ViewerToAgent>(4096).await {
            if let ViewerToAgent::Credit { credits, .. } = msg {
                reader_credit.fetch_add(credits, Ordering::Relaxed);
            }
        }
    });
    let mut tick = tokio::time::interval(Duration::from_secs(1) / 60);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut at = 0usize;
    while !stop.load(Ordering::Relaxed) && !reader.is_finished() {
        tick.tick().await;
        if credit.load(Ordering::Relaxed) == 0 {
            continue;
        }
        credit.fetch_sub(1, Ordering::Relaxed);
        let frame = AgentToViewer::Frame {
            capture_step: ticks.step(unix_micros()),
            data: clip[at].clone(),
        };
        at = (at + 1) % clip.len();
        if send.write_msg(&frame, MAX_SCREEN_FRAME_LEN).await.is_err() {
            break;
        }
    }
    reader.abort();
    Ok(())
}

/// What one viewer saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Watched {
    pub frames: u64,
    pub wire_bytes: u64,
}

/// Opens a screen session with `machine` as its own console connection and
/// decodes it for `secs`.
///
/// # Errors
/// Refusals and stream failures.
pub async fn watch(
    config: lifeline::config::ConsoleConfig,
    machine: String,
    secs: f64,
) -> anyhow::Result<Watched> {
    let mut client = Client::connect(&config).await?;
    let mut stream = ScreenStream::open(&mut client, &machine, Permission::View, None, 60).await?;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start_bytes = stream.wire_bytes();
    let mut got = Watched::default();
    while let Ok(ev) = tokio::time::timeout_at(end.into(), stream.next()).await {
        if let lifeline::viewer::stream::ViewEvent::Frame { .. } = ev? {
            got.frames += 1;
        }
    }
    got.wire_bytes = stream.wire_bytes() - start_bytes;
    let session = stream.session;
    drop(stream);
    let _ = client
        .request(lifeline_proto::ConsoleRequest::CloseSession { session })
        .await;
    client.close().await;
    Ok(got)
}

/// Where the replay phase runs.
pub struct Setup {
    pub addr: String,
    pub fp: Fingerprint,
    pub token: Secret,
    pub work: std::path::PathBuf,
    /// A logged-in console directory.
    pub console_dir: std::path::PathBuf,
    pub relay_pid: u32,
    pub secs: f64,
}

/// The replay phase's figures.
#[derive(Debug, Default, Clone, Copy)]
pub struct Replayed {
    pub sessions: usize,
    pub fps_mean: f64,
    pub kbit_per_s_total: f64,
    /// Relay CPU over the sessions, in cores.
    pub relay_cores: f64,
}

/// Enrolls `n` simulated agents, opens one replayed session with each and
/// measures the relay while they run.
///
/// # Errors
/// Setup failures; a session that fails is left out of the figures.
pub async fn phase(s: &Setup, n: usize) -> anyhow::Result<Replayed> {
    let clip = Arc::new(typing_clip(600));
    let creds =
        crate::bench_load::enroll_many(&s.work, &s.addr, &s.fp, &s.token, n, "replay", 100).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut agents = tokio::task::JoinSet::new();
    for (id, secret, dir) in &creds {
        let cfg = lifeline_agent::config::AgentConfig::load(dir)?;
        let private = hex::decode(cfg.e2e_private.expose())?;
        agents.spawn(replay_agent(
            s.addr.clone(),
            s.fp.clone(),
            id.clone(),
            secret.clone(),
            private,
            clip.clone(),
            stop.clone(),
        ));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let config = lifeline::config::ConsoleConfig::load(&s.console_dir)?;
    let (_, c0) = crate::bench_load::proc_usage(s.relay_pid)?;
    let t0 = Instant::now();
    let mut viewers = tokio::task::JoinSet::new();
    for (id, _, _) in &creds {
        viewers.spawn(watch(config.clone(), id.clone(), s.secs));
    }
    let mut out = Replayed::default();
    let mut fps = 0.0;
    let mut bytes = 0u64;
    while let Some(r) = viewers.join_next().await {
        match r? {
            Ok(w) => {
                out.sessions += 1;
                fps += w.frames as f64 / s.secs;
                bytes += w.wire_bytes;
            }
            Err(e) => eprintln!(
                "load: a replayed session failed: {}",
                lifeline_net::describe(&*e)
            ),
        }
    }
    let (_, c1) = crate::bench_load::proc_usage(s.relay_pid)?;
    out.relay_cores = (c1 - c0) / t0.elapsed().as_secs_f64();
    out.fps_mean = fps / out.sessions.max(1) as f64;
    out.kbit_per_s_total = bytes as f64 * 8.0 / 1000.0 / s.secs;
    stop.store(true, Ordering::Relaxed);
    agents.abort_all();
    Ok(out)
}
