//! Lifeline's side: an agent capturing the Xvfb through the in-process
//! relay to a console's screen stream, and the codec timed offline.

use crate::{ms, stage::Stage};
use anyhow::{anyhow, bail};
use lifeline::viewer::stream::{ScreenStream, ViewEvent};
use lifeline_agent::{
    capture::{Capture, x11::X11Capture},
    inventory::InventoryConfig,
    runner::{self, RunOptions},
};
use lifeline_proto::{
    ConsoleRequest, Permission,
    screen::{
        Decoder, Encoder, EncoderConfig,
        measure::percentile,
        synth::{Synth, Workload},
    },
};
use std::time::{Duration, Instant};

/// An agent running in this process; stopped when dropped.
pub struct Agent {
    /// Its machine id, to open sessions with.
    pub machine_id: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Enrolls an agent that accepts screen sessions unattended and captures
/// `display`, and waits until the relay lists it online. The agent reaches
/// the relay at `relay` (the stage's own address, or a path in front of it).
///
/// # Errors
/// Enrollment failures or the agent not coming online within 10 s.
pub async fn spawn_x11_agent(
    stage: &mut Stage,
    relay: std::net::SocketAddr,
    display: &str,
) -> anyhow::Result<Agent> {
    let config = stage.enroll("screen", relay).await?;
    // Files only, no package tools: a full collection would compete with
    // the first measurement for the CPU.
    let display = display.to_string();
    let opts = RunOptions {
        unattended: true,
        inventory: InventoryConfig {
            root: Some("/".into()),
        },
        capture: std::sync::Arc::new(move || {
            Ok(Box::new(X11Capture::open(Some(&display))?) as Box<dyn Capture>)
        }),
        ..RunOptions::default()
    };
    let run_cfg = config.clone();
    let task = tokio::spawn(async move {
        let _ = runner::run(&run_cfg, &opts).await;
    });
    let agent = Agent {
        machine_id: config.machine_id.clone(),
        task,
    };
    stage
        .wait_online(&config.machine_id, Duration::from_secs(10))
        .await?;
    Ok(agent)
}

/// Opens a screen stream at up to `max_fps` and waits for its first
/// (key) frame, so that measuring starts with deltas only.
///
/// # Errors
/// Refusals, agent errors, or no frame within 10 s.
pub async fn open_stream(
    stage: &mut Stage,
    machine: &str,
    max_fps: u32,
    smooth_motion: bool,
) -> anyhow::Result<ScreenStream> {
    let mut stream = ScreenStream::open(&mut stage.admin, machine, Permission::View, None, max_fps)
        .await
        .map_err(|e| anyhow!("open screen stream: {e}"))?;
    if smooth_motion {
        stream
            .set_smooth_motion(true)
            .await
            .map_err(|e| anyhow!("smooth motion: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Ok(ViewEvent::Frame { .. })) => return Ok(stream),
            Ok(Ok(ViewEvent::Cursor(_))) => {}
            Ok(Err(e)) => bail!("screen stream: {e}"),
            Err(_) => bail!("no key frame within 10 s"),
        }
    }
}

/// Closes the session behind `stream`.
///
/// # Errors
/// Relay refusal.
pub async fn close_stream(stage: &mut Stage, stream: ScreenStream) -> anyhow::Result<()> {
    let session = stream.session;
    drop(stream);
    stage
        .admin
        .request(ConsoleRequest::CloseSession { session })
        .await?;
    Ok(())
}

/// What a screen stream delivered during a measurement window.
#[derive(Debug, Default)]
pub struct Received {
    /// Frames decoded within the painting time.
    pub frames_in_window: u32,
    /// Encoded bytes of every frame from the start to the end of the tail.
    pub bytes: u64,
    /// Bytes of the stream as they travelled over the same time: frames,
    /// cursor updates, message framing, encryption records and tags.
    pub wire_bytes: u64,
    /// Capture-to-decoded latency of every frame counted in `bytes`.
    pub latencies_us: Vec<i64>,
}

/// Reads `stream` from now until `paint_end + tail`.
///
/// # Errors
/// Stream failures.
pub async fn receive(
    stream: &mut ScreenStream,
    paint_end: Instant,
    tail: Duration,
) -> anyhow::Result<Received> {
    let end = paint_end + tail;
    let mut got = Received::default();
    let wire_start = stream.wire_bytes();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            got.wire_bytes = stream.wire_bytes() - wire_start;
            return Ok(got);
        }
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Ok(ViewEvent::Frame {
                bytes, latency_us, ..
            })) => {
                if Instant::now() < paint_end {
                    got.frames_in_window += 1;
                }
                got.bytes += bytes as u64;
                got.latencies_us.push(latency_us);
            }
            Ok(Ok(ViewEvent::Cursor(_))) => {}
            Ok(Err(e)) => bail!("screen stream: {e}"),
            Err(_) => {
                got.wire_bytes = stream.wire_bytes() - wire_start;
                return Ok(got);
            }
        }
    }
}

/// The latency quantile `p` (0..=100) in milliseconds.
pub fn latency_ms(latencies_us: &[i64], p: u32) -> Option<f64> {
    (!latencies_us.is_empty()).then(|| percentile(latencies_us, p) as f64 / 1000.0)
}

/// Codec timings on the synthetic frames, one thread.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CodecTimes {
    pub frames: usize,
    pub encode_p50_ms: f64,
    pub encode_p99_ms: f64,
    pub decode_p50_ms: f64,
    /// Mean encoded delta size.
    pub mean_bytes: f64,
}

/// Encodes (with `encode_owned`, as a capture loop that recycles frames
/// would) and decodes `frames` deltas of `workload` after the key frame,
/// timing each call. The codec is single-threaded and the caller runs this
/// while nothing else of the benchmark runs, so it measures one core.
///
/// # Errors
/// A frame the decoder rejects (a codec bug).
pub fn time_codec(
    workload: Workload,
    frames: usize,
    seed: u64,
    coarse_motion: bool,
) -> anyhow::Result<CodecTimes> {
    let mut synth = Synth::full_hd(workload, seed);
    // One core: no helper threads for large changes.
    let mut enc = Encoder::with_config(EncoderConfig {
        threads: 1,
        coarse_motion,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    dec.set_threads(1);
    let (key, _) = enc.encode_owned(synth.frame().clone());
    dec.decode(&key)?;
    let mut encode = Vec::with_capacity(frames);
    let mut decode = Vec::with_capacity(frames);
    let mut bytes = 0usize;
    for _ in 0..frames {
        let frame = synth.next_frame().clone();
        let t = Instant::now();
        let (data, _spare) = enc.encode_owned(frame);
        encode.push(t.elapsed());
        let t = Instant::now();
        dec.decode(&data)?;
        decode.push(t.elapsed());
        bytes += data.len();
    }
    Ok(CodecTimes {
        frames,
        encode_p50_ms: ms(percentile(&encode, 50)),
        encode_p99_ms: ms(percentile(&encode, 99)),
        decode_p50_ms: ms(percentile(&decode, 50)),
        mean_bytes: bytes as f64 / frames.max(1) as f64,
    })
}
