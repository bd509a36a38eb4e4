//! `lifeline-bench screen`: screen sharing on a real X server, Lifeline
//! against TigerVNC (Tight and ZRLE) and x264, on the same screen changes.
//!
//! A private Xvfb shows 1920x1080. For every workload and every tool, the
//! painter first puts the workload's first frame on the screen, the tool
//! starts and sends its initial full screen (not counted), then the painter
//! plays the workload for `--seconds` at `--fps` while the tool's bytes are
//! logged. Bytes are counted from the start of painting until a short tail
//! after it (so updates still in flight count) and divided by the painting
//! time. Each tool measures the screen with nothing else of the benchmark
//! watching, so they do not compete for the two cores.

pub mod ours;
pub mod painter;
mod peers;
pub mod procs;
mod rfb;
mod table;

pub use table::markdown;

use crate::stage::Stage;
use anyhow::anyhow;
use lifeline_proto::screen::synth::{Synth, Workload};
use ours::CodecTimes;
use painter::{Painter, Played};
use serde::Serialize;
use std::time::{Duration, Instant};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
/// Every tool sees the same frames: same workload, same seed.
const SEED: u64 = 1;
/// Time after painting during which bytes still count.
const TAIL: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub struct ScreenOptions {
    /// Seconds of painting per workload and tool.
    pub seconds: u64,
    /// Painter frame rate, also Lifeline's frame-rate ceiling.
    pub fps: u32,
    /// Workloads, in order.
    pub workloads: Vec<Workload>,
    /// Synthetic frames per workload for the offline codec timings.
    pub codec_frames: usize,
    /// Round trip added between the agent and the relay (0: none). Only
    /// Lifeline runs then: the peers have no relay to put a path before.
    pub rtt_ms: u64,
    /// A link of this many Mbit/s each way between the agent and the
    /// relay (none: loopback's), Lifeline alone as with `rtt_ms`.
    pub link_mbit: Option<f64>,
}

/// Parses workload names (idle, typing, scrolling, drag, video); none
/// means all of them.
///
/// # Errors
/// An unknown name.
pub fn parse_workloads(names: &[String]) -> anyhow::Result<Vec<Workload>> {
    if names.is_empty() {
        return Ok(Workload::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| lifeline_agent::capture::synthetic::parse_workload(n).map_err(|e| anyhow!("{e}")))
        .collect()
}

fn name(w: Workload) -> &'static str {
    match w {
        Workload::Idle => "idle",
        Workload::Typing => "typing",
        Workload::Scrolling => "scrolling",
        Workload::WindowDrag => "drag",
        Workload::Video => "video",
    }
}

/// One workload's figures; `None` where a tool was skipped or failed.
#[derive(Debug, Serialize)]
pub struct WorkloadRow {
    pub workload: String,
    /// Frames per second the painter reached during each tool's run
    /// (Lifeline, Tight, ZRLE, x264): below `--fps`, the machine was short
    /// of CPU and that tool saw fewer screen changes.
    pub painted_fps: [Option<f64>; 4],
    /// The stream as it travelled (frames, cursor, framing, encryption).
    pub lifeline_kbit_s: Option<f64>,
    /// The encoded frames alone.
    pub lifeline_codec_kbit_s: Option<f64>,
    pub lifeline_fps: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub codec: CodecTimes,
    pub tight_kbit_s: Option<f64>,
    pub zrle_kbit_s: Option<f64>,
    pub x264_kbit_s: Option<f64>,
    /// Lifeline wire bytes over the better of Tight and ZRLE.
    pub lifeline_vs_best_vnc: Option<f64>,
    /// Lifeline wire bytes over x264's.
    pub lifeline_vs_x264: Option<f64>,
    /// CPU, in percent of one core, from the start of painting to the end
    /// of the tail: Lifeline's agent (capture, encode), relay and viewer
    /// (decode) in this process, the painting thread left out; each peer's
    /// server or encoder process alone (Tight, ZRLE, x264). The X server's
    /// own work is in none of them.
    pub cpu_pct: [Option<f64>; 4],
    /// Lifeline's CPU milliseconds per frame delivered (agent, relay and
    /// viewer together): on 2 cores, latency cannot go below half of it.
    pub lifeline_cpu_ms_per_frame: Option<f64>,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
pub struct ScreenReport {
    pub width: u32,
    pub height: u32,
    pub seconds: u64,
    pub paint_fps: u32,
    pub tail_ms: u64,
    pub vnc_request_interval_ms: u64,
    pub x264_settings: String,
    /// Round trip added between the agent and the relay.
    pub rtt_ms: u64,
    /// Link rate between the agent and the relay, each way.
    pub link_mbit: Option<f64>,
    /// Tools that were not measured, and why.
    pub notes: Vec<String>,
    pub rows: Vec<WorkloadRow>,
}

fn kbit_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 * 8.0 / 1000.0 / seconds
}

/// Shows the first frame of `workload` and returns the generator, ready to
/// play the following frames.
fn fresh(painter: &mut Painter, workload: Workload) -> anyhow::Result<Synth> {
    let synth = Synth::full_hd(workload, SEED);
    painter.show(synth.frame())?;
    Ok(synth)
}

/// Plays `synth` on a thread of its own while `measure` runs here with the
/// time painting ends.
fn paint_while<T>(
    painter: &mut Painter,
    mut synth: Synth,
    opts: &ScreenOptions,
    measure: impl FnOnce(Instant) -> anyhow::Result<T>,
) -> anyhow::Result<(Played, T)> {
    let duration = Duration::from_secs(opts.seconds);
    let fps = opts.fps;
    std::thread::scope(|s| {
        let end = Instant::now() + duration;
        let painting = s.spawn(move || painter.play(&mut synth, fps, duration));
        let measured = measure(end);
        let played = painting.join().map_err(|_| anyhow!("painter panicked"))??;
        Ok((played, measured?))
    })
}

struct LifelineRun {
    painted: Played,
    kbit_s: f64,
    codec_kbit_s: f64,
    fps: f64,
    latency_p50_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    cpu_pct: Option<f64>,
    cpu_ms_per_frame: Option<f64>,
}

/// CPU seconds `who` spent while `f` ran, with `f`'s result.
fn cpu_during<T>(
    who: &str,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, Option<f64>)> {
    let before = procs::cpu_seconds(who);
    let out = f()?;
    let spent = match (before, procs::cpu_seconds(who)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok((out, spent))
}

/// `cpu_s` as percent of one core over the painting time and the tail.
fn cpu_pct(cpu_s: Option<f64>, opts: &ScreenOptions) -> Option<f64> {
    let window = opts.seconds as f64 + TAIL.as_secs_f64();
    cpu_s.map(|c| c * 100.0 / window)
}

fn lifeline_run(
    rt: &tokio::runtime::Runtime,
    stage: &mut Stage,
    machine: &str,
    painter: &mut Painter,
    workload: Workload,
    smooth_motion: bool,
    opts: &ScreenOptions,
) -> anyhow::Result<LifelineRun> {
    let synth = fresh(painter, workload)?;
    let mut stream = rt.block_on(ours::open_stream(stage, machine, opts.fps, smooth_motion))?;
    let (painted, (got, cpu_s)) = paint_while(painter, synth, opts, |end| {
        cpu_during("self", || {
            rt.block_on(ours::receive(&mut stream, end, TAIL))
        })
    })?;
    rt.block_on(ours::close_stream(stage, stream))?;
    let secs = opts.seconds as f64;
    let cpu_s = cpu_s.map(|c| (c - painted.cpu_s).max(0.0));
    let frames = got.latencies_us.len();
    Ok(LifelineRun {
        cpu_pct: cpu_pct(cpu_s, opts),
        cpu_ms_per_frame: cpu_s
            .filter(|_| frames > 0)
            .map(|c| c * 1000.0 / frames as f64),
        painted,
        kbit_s: kbit_s(got.wire_bytes, secs),
        codec_kbit_s: kbit_s(got.bytes, secs),
        fps: f64::from(got.frames_in_window) / secs,
        latency_p50_ms: ours::latency_ms(&got.latencies_us, 50),
        latency_p99_ms: ours::latency_ms(&got.latencies_us, 99),
    })
}

/// A peer's figures for one workload.
#[derive(Debug, Clone, Copy)]
struct PeerRun {
    kbit_s: f64,
    painted_fps: f64,
    cpu_pct: Option<f64>,
}

fn vnc_run(
    display: &str,
    painter: &mut Painter,
    workload: Workload,
    encoding: rfb::Encoding,
    opts: &ScreenOptions,
) -> anyhow::Result<PeerRun> {
    let synth = fresh(painter, workload)?;
    let mut vnc = peers::start_vnc(display, encoding)?;
    let server = vnc.server_pid.to_string();
    let (played, (bytes, cpu_s)) = paint_while(painter, synth, opts, |end| {
        cpu_during(&server, || {
            let start = Instant::now();
            vnc.viewer.pump(end + TAIL)?;
            Ok(vnc.viewer.log.between(start, end + TAIL))
        })
    })?;
    Ok(PeerRun {
        kbit_s: kbit_s(bytes, opts.seconds as f64),
        painted_fps: played.fps,
        cpu_pct: cpu_pct(cpu_s, opts),
    })
}

fn x264_run(
    display: &str,
    painter: &mut Painter,
    workload: Workload,
    opts: &ScreenOptions,
) -> anyhow::Result<PeerRun> {
    let synth = fresh(painter, workload)?;
    let ffmpeg = peers::start_x264(display, WIDTH, HEIGHT)?;
    let encoder = ffmpeg.pid.to_string();
    let (played, (bytes, cpu_s)) = paint_while(painter, synth, opts, |end| {
        cpu_during(&encoder, || {
            let start = Instant::now();
            std::thread::sleep((end + TAIL).saturating_duration_since(start));
            Ok(ffmpeg.log.between(start, end + TAIL))
        })
    })?;
    Ok(PeerRun {
        kbit_s: kbit_s(bytes, opts.seconds as f64),
        painted_fps: played.fps,
        cpu_pct: cpu_pct(cpu_s, opts),
    })
}

/// Keeps a peer's figures, or notes why there are none.
fn peer(
    label: &str,
    wl: Workload,
    r: anyhow::Result<PeerRun>,
    notes: &mut Vec<String>,
) -> Option<PeerRun> {
    r.map_err(|e| {
        let note = format!("{label} on {}: {}", name(wl), lifeline_net::describe(&*e));
        eprintln!("warning: {note}");
        notes.push(note);
    })
    .ok()
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Runs every workload through every tool that is installed.
///
/// # Errors
/// Xvfb, relay or agent setup failures, or Lifeline's own stream failing;
/// a peer that fails is noted and skipped.
pub fn run(rt: &tokio::runtime::Runtime, opts: &ScreenOptions) -> anyhow::Result<ScreenReport> {
    // Codec timings first, while nothing else of the benchmark runs.
    let codec = opts
        .workloads
        .iter()
        .map(|&w| ours::time_codec(w, opts.codec_frames, SEED, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Video is also run with smooth motion; its codec timed here too, while
    // nothing else of the benchmark runs.
    let smooth_codec = if opts.workloads.contains(&Workload::Video) {
        Some(ours::time_codec(
            Workload::Video,
            opts.codec_frames,
            SEED,
            true,
        )?)
    } else {
        None
    };
    let mut notes = Vec::new();
    if let Some(m) = opts.link_mbit
        && !(m.is_finite() && m >= 0.01)
    {
        anyhow::bail!("--link-mbit {m}: give a rate of at least 0.01 Mbit/s");
    }
    let peers_run = opts.rtt_ms == 0 && opts.link_mbit.is_none();
    let have_vnc = peers_run && peers::vnc_server().is_some();
    if !peers_run {
        let link = opts
            .link_mbit
            .map_or(String::new(), |m| format!(" over a {m} Mbit/s link"));
        notes.push(format!(
            "agent and relay {} ms apart{link} (a proxy on loopback): Lifeline alone",
            opts.rtt_ms
        ));
    } else if !have_vnc {
        notes.push("x0vncserver not found: `apt-get install -y tigervnc-scraping-server` for the Tight and ZRLE columns".into());
    }
    let have_ffmpeg = peers_run && procs::which("ffmpeg").is_some();
    if peers_run && !have_ffmpeg {
        notes.push("ffmpeg not found: `apt-get install -y ffmpeg` for the x264 column".into());
    }
    for n in &notes {
        eprintln!("warning: {n}");
    }
    let xvfb = procs::Xvfb::start(WIDTH, HEIGHT)?;
    let mut painter = Painter::connect(&xvfb.display, WIDTH)?;
    let mut stage = rt.block_on(Stage::start())?;
    let path = (!peers_run).then(|| {
        let one_way = Duration::from_millis(opts.rtt_ms) / 2;
        let rate = opts.link_mbit.map(|m| (m * 125_000.0) as u64);
        let link = crate::lossy::Link {
            loss: 0.0,
            delay: one_way,
            rate,
            mtu: Some(crate::lossy::ETHERNET_PAYLOAD),
        };
        crate::lossy::LossyProxy::start_link(stage.addr, link)
    });
    let relay = path.as_ref().map_or(stage.addr, |p| p.addr);
    let agent = rt.block_on(ours::spawn_x11_agent(&mut stage, relay, &xvfb.display))?;
    // Its first inventory upload out of the way: on a thin link it would
    // slow the first workload only.
    if let Err(e) = rt.block_on(stage.wait_inventory(&agent.machine_id, Duration::from_secs(10))) {
        eprintln!("warning: {e}; measuring anyway");
    }
    let mut rows = Vec::new();
    for (&wl, codec) in opts.workloads.iter().zip(codec) {
        eprintln!("screen bench: {}", name(wl));
        let ours = lifeline_run(
            rt,
            &mut stage,
            &agent.machine_id,
            &mut painter,
            wl,
            false,
            opts,
        )?;
        let (mut tight, mut zrle, mut x264) = (None, None, None);
        let kbit = |r: Option<PeerRun>| r.map(|p| p.kbit_s);
        let painted = |r: Option<PeerRun>| r.map(|p| p.painted_fps);
        if have_vnc {
            let r = vnc_run(&xvfb.display, &mut painter, wl, rfb::Encoding::Tight, opts);
            tight = peer("Tight", wl, r, &mut notes);
            let r = vnc_run(&xvfb.display, &mut painter, wl, rfb::Encoding::Zrle, opts);
            zrle = peer("ZRLE", wl, r, &mut notes);
        }
        if have_ffmpeg {
            let r = x264_run(&xvfb.display, &mut painter, wl, opts);
            x264 = peer("x264", wl, r, &mut notes);
        }
        let painted_fps = [
            Some(ours.painted.fps),
            painted(tight),
            painted(zrle),
            painted(x264),
        ];
        let peer_cpu = [tight, zrle, x264].map(|r| r.and_then(|p| p.cpu_pct));
        let (tight, zrle, x264) = (kbit(tight), kbit(zrle), kbit(x264));
        let best_vnc = match (tight, zrle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let row = |label: String, ours: &LifelineRun, codec: CodecTimes| WorkloadRow {
            workload: label,
            painted_fps: [
                Some(ours.painted.fps),
                painted_fps[1],
                painted_fps[2],
                painted_fps[3],
            ],
            lifeline_kbit_s: Some(ours.kbit_s),
            lifeline_codec_kbit_s: Some(ours.codec_kbit_s),
            lifeline_fps: Some(ours.fps),
            latency_p50_ms: ours.latency_p50_ms,
            latency_p99_ms: ours.latency_p99_ms,
            codec,
            tight_kbit_s: tight,
            zrle_kbit_s: zrle,
            x264_kbit_s: x264,
            lifeline_vs_best_vnc: ratio(Some(ours.kbit_s), best_vnc),
            lifeline_vs_x264: ratio(Some(ours.kbit_s), x264),
            cpu_pct: [ours.cpu_pct, peer_cpu[0], peer_cpu[1], peer_cpu[2]],
            lifeline_cpu_ms_per_frame: ours.cpu_ms_per_frame,
        };
        rows.push(row(name(wl).into(), &ours, codec));
        if let (Workload::Video, Some(codec)) = (wl, smooth_codec.clone()) {
            // The same video with `lifeline connect --smooth-motion`: moving
            // tiles at half resolution, exact once still (peers as above).
            eprintln!("screen bench: video, smooth motion");
            let machine = &agent.machine_id;
            let smooth = lifeline_run(rt, &mut stage, machine, &mut painter, wl, true, opts)?;
            rows.push(row(format!("{} (smooth motion)", name(wl)), &smooth, codec));
        }
    }
    drop(agent);
    drop(path);
    Ok(ScreenReport {
        width: WIDTH,
        height: HEIGHT,
        seconds: opts.seconds,
        paint_fps: opts.fps,
        tail_ms: TAIL.as_millis() as u64,
        vnc_request_interval_ms: rfb::REQUEST_INTERVAL.as_millis() as u64,
        x264_settings: peers::X264_SETTINGS.into(),
        rtt_ms: opts.rtt_ms,
        link_mbit: opts.link_mbit,
        notes,
        rows,
    })
}
