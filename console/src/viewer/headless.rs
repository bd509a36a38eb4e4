//! `lifeline connect --headless`: watch for a while, write the last frame as
//! PNG and the figures as JSON.

use super::stream::{ScreenStream, ViewError, ViewEvent};
use lifeline_proto::screen::Frame;
use serde::Serialize;
use std::{
    path::Path,
    time::{Duration, Instant},
};

/// What `stats.json` holds.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub machine_id: String,
    pub hostname: String,
    pub width: u32,
    pub height: u32,
    pub duration_s: f64,
    pub frames: u64,
    pub bytes: u64,
    pub fps: f64,
    pub kbit_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub clock_offset_ms: f64,
    /// Round trip to the agent through the relay, from the stream's
    /// handshake and its frames (it sets how many frames may be in flight).
    pub path_rtt_ms: f64,
    /// Frames after which part of the picture was a moving area at half
    /// resolution (`--smooth-motion`); 0 means every frame was exact.
    pub smooth_frames: u64,
    /// Whether the last frame (`last.png`) is exactly the remote screen.
    pub last_exact: bool,
}

fn quantile_ms(sorted_us: &[i64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// Frames, bytes and latencies counted so far, over one session or several
/// (after a reconnect).
#[derive(Debug, Default)]
pub struct Tally {
    pub frames: u64,
    pub bytes: u64,
    pub latencies_us: Vec<i64>,
    pub smooth_frames: u64,
}

/// Watches `stream` until `deadline`, counting into `tally`; returns the
/// error that ended the stream early, if one did.
pub async fn watch_until(
    stream: &mut ScreenStream,
    deadline: Instant,
    tally: &mut Tally,
) -> Option<ViewError> {
    loop {
        let ev = tokio::select! {
            ev = stream.next() => match ev {
                Ok(ev) => ev,
                Err(e) => return Some(e),
            },
            () = tokio::time::sleep_until(deadline.into()) => return None,
        };
        if let ViewEvent::Frame {
            bytes: n,
            latency_us,
            exact,
            ..
        } = ev
        {
            tally.frames += 1;
            tally.smooth_frames += u64::from(!exact);
            tally.bytes += n as u64;
            tally.latencies_us.push(latency_us.max(0));
        }
    }
}

/// The figures of `tally` over `elapsed`, for the stream's machine.
pub fn stats(stream: &ScreenStream, tally: &mut Tally, elapsed: Duration) -> Stats {
    let elapsed = elapsed.as_secs_f64();
    tally.latencies_us.sort_unstable();
    let (width, height) = stream.frame().map_or((0, 0), |f| (f.width(), f.height()));
    Stats {
        machine_id: stream.machine_id.clone(),
        hostname: stream.hostname.clone(),
        width,
        height,
        duration_s: elapsed,
        frames: tally.frames,
        bytes: tally.bytes,
        fps: tally.frames as f64 / elapsed,
        kbit_per_s: tally.bytes as f64 * 8.0 / 1000.0 / elapsed,
        latency_ms_p50: quantile_ms(&tally.latencies_us, 0.5),
        latency_ms_p99: quantile_ms(&tally.latencies_us, 0.99),
        clock_offset_ms: stream.clock_offset_us as f64 / 1000.0,
        path_rtt_ms: stream.path_rtt_us() as f64 / 1000.0,
        smooth_frames: tally.smooth_frames,
        last_exact: stream.exact(),
    }
}

/// Watches `stream` for `duration` and returns the figures, and the error
/// that ended the stream early, if one did.
pub async fn watch(stream: &mut ScreenStream, duration: Duration) -> (Stats, Option<ViewError>) {
    let start = Instant::now();
    let mut tally = Tally::default();
    let failed = watch_until(stream, start + duration, &mut tally).await;
    (stats(stream, &mut tally, start.elapsed()), failed)
}

/// Writes `frame` as an RGB PNG.
///
/// # Errors
/// File or encoder failures.
pub fn write_png(frame: &Frame, path: &Path) -> anyhow::Result<()> {
    let rgb: Vec<u8> = frame
        .pixels()
        .iter()
        .flat_map(|p| {
            let [b, g, r, _] = p.to_le_bytes();
            [r, g, b]
        })
        .collect();
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, frame.width(), frame.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    enc.write_header()?.write_image_data(&rgb)?;
    Ok(())
}

/// Writes `DIR/last.png` and `DIR/stats.json`.
///
/// # Errors
/// File failures, or no frame received at all.
pub fn record(stream: &ScreenStream, stats: &Stats, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let frame = stream
        .frame()
        .ok_or_else(|| anyhow::anyhow!("no frame arrived from the agent"))?;
    write_png(frame, &dir.join("last.png"))?;
    std::fs::write(dir.join("stats.json"), serde_json::to_vec_pretty(stats)?)?;
    Ok(())
}
