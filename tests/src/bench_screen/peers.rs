//! The peers: TigerVNC's scraping server (read by our RFB viewer) and
//! ffmpeg's x11grab + libx264, each watching the same Xvfb.

use super::{
    procs::{Guard, which},
    rfb::{Encoding, Viewer},
};
use anyhow::{Context, bail};
use std::{
    io::Read,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Arrival times and sizes of received chunks, shared with a reader thread.
#[derive(Clone, Default)]
pub struct ByteLog(Arc<Mutex<Vec<(Instant, usize)>>>);

impl ByteLog {
    /// Notes `n` bytes arriving now.
    pub fn record(&self, n: usize) {
        if let Ok(mut v) = self.0.lock() {
            v.push((Instant::now(), n));
        }
    }

    /// When the last chunk arrived.
    pub fn last(&self) -> Option<Instant> {
        self.0.lock().ok()?.last().map(|(t, _)| *t)
    }

    /// Bytes that arrived in `from..to`.
    pub fn between(&self, from: Instant, to: Instant) -> u64 {
        self.0.lock().map_or(0, |v| {
            v.iter()
                .filter(|(t, _)| *t >= from && *t < to)
                .map(|(_, n)| *n as u64)
                .sum()
        })
    }
}

/// The VNC server binary: Debian's `X0tigervnc` runs in the foreground,
/// where `x0vncserver` is a wrapper that daemonizes; upstream builds name
/// the server itself `x0vncserver`.
pub fn vnc_server() -> Option<std::path::PathBuf> {
    which("X0tigervnc").or_else(|| which("x0vncserver"))
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it
/// right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running VNC server scraping `display`, with a viewer connected and
/// past its initial full update.
pub struct VncSession {
    /// The viewer; measure with its `pump` and `log`.
    pub viewer: Viewer,
    /// The server's process id, for its CPU time.
    pub server_pid: u32,
    _server: Guard,
}

/// Starts the VNC server on `display` (loopback only, no authentication,
/// otherwise its defaults: XDamage, 30 ms polling, at most 60 updates/s)
/// and connects a viewer asking for `encoding`.
///
/// # Errors
/// The server is missing or did not serve within 10 s.
pub fn start_vnc(display: &str, encoding: Encoding) -> anyhow::Result<VncSession> {
    let Some(server) = vnc_server() else {
        bail!("x0vncserver not found");
    };
    let port = free_port()?;
    let mut guard = Guard::spawn(
        "x0vncserver",
        Command::new(server)
            .args(["-display", display, "-rfbport"])
            .arg(port.to_string())
            .args(["-SecurityTypes", "None", "-interface", "127.0.0.1"])
            .stdout(Stdio::null()),
    )?;
    std::thread::sleep(Duration::from_millis(200));
    guard.check_running()?;
    let mut viewer = Viewer::connect(port, encoding, Duration::from_secs(10))?;
    viewer.settle(Duration::from_millis(500), Duration::from_secs(10))?;
    Ok(VncSession {
        viewer,
        server_pid: guard.pid(),
        _server: guard,
    })
}

/// The ffmpeg settings, for the report.
pub const X264_SETTINGS: &str = "x11grab 30 fps → libx264 -preset ultrafast -tune zerolatency -crf 23 -pix_fmt yuv420p -g 600, raw H.264 on a pipe";

/// A running ffmpeg encoding `display` to H.264 on its stdout.
pub struct X264Session {
    /// Every chunk of H.264 written by ffmpeg.
    pub log: ByteLog,
    /// ffmpeg's process id, for its CPU time.
    pub pid: u32,
    guard: Option<Guard>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts ffmpeg grabbing `display` (`width`x`height`) at 30 fps, waits for
/// its first output (the key frame) and a further second to settle.
///
/// CRF 23 is x264's default quality and keeps 8x16 text readable at 1080p;
/// a key frame interval of 600 frames (20 s) means only the start-up key
/// frame, which is not counted, is sent. The raw H.264 stream has no
/// container overhead; `-flush_packets 1` writes each frame at once.
///
/// # Errors
/// ffmpeg is missing, exits, or writes nothing within 15 s.
pub fn start_x264(display: &str, width: u32, height: u32) -> anyhow::Result<X264Session> {
    if which("ffmpeg").is_none() {
        bail!("ffmpeg not found");
    }
    let mut guard = Guard::spawn(
        "ffmpeg",
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
            .args(["-f", "x11grab", "-draw_mouse", "0", "-framerate", "30"])
            .arg("-video_size")
            .arg(format!("{width}x{height}"))
            .args(["-i", display])
            .args(["-c:v", "libx264", "-preset", "ultrafast"])
            .args(["-tune", "zerolatency", "-crf", "23", "-pix_fmt", "yuv420p"])
            .args(["-g", "600", "-flush_packets", "1", "-f", "h264", "pipe:1"])
            .stdout(Stdio::piped()),
    )?;
    let mut out = guard.take_stdout().context("ffmpeg stdout")?;
    let log = ByteLog::default();
    let rlog = log.clone();
    // Ends at EOF, when the guard kills ffmpeg.
    let reader = std::thread::Builder::new()
        .name("x264-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                rlog.record(n);
            }
        })?;
    let mut session = X264Session {
        log,
        pid: guard.pid(),
        guard: Some(guard),
        reader: Some(reader),
    };
    let start = Instant::now();
    while session.log.last().is_none() {
        if let Some(g) = session.guard.as_mut() {
            g.check_running()?;
        }
        if start.elapsed() > Duration::from_secs(15) {
            bail!("ffmpeg wrote nothing within 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    Ok(session)
}

impl Drop for X264Session {
    fn drop(&mut self) {
        // Kill first so that the reader sees EOF.
        self.guard.take();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
