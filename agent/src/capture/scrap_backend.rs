//! The `scrap` backend (cargo feature `scrap`): the path for Windows and
//! macOS, where scrap wraps DXGI and CoreGraphics. On Linux X11 stays the
//! default (scrap's X11 segment is world-readable; ours is 0600), but the
//! feature builds and is tested there too.
//!
//! scrap's capturer is not `Send`, so it lives on a thread of its own and
//! this handle asks it for frames over channels.

use super::{Capture, CaptureError};
use lifeline_proto::screen::Frame;
use lifeline_proto::view::MonitorInfo;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a frame request waits for the OS to have a new image.
const FRAME_WAIT: Duration = Duration::from_millis(200);

/// The primary display through scrap.
pub struct ScrapCapture {
    requests: mpsc::Sender<()>,
    frames: mpsc::Receiver<Result<Frame, CaptureError>>,
    width: u32,
    height: u32,
}

impl ScrapCapture {
    /// Opens the primary display.
    ///
    /// # Errors
    /// [`CaptureError::NoDisplay`] when there is none to open.
    pub fn open() -> Result<Self, CaptureError> {
        let (setup_tx, setup_rx) = mpsc::channel();
        let (req_tx, req_rx) = mpsc::channel::<()>();
        let (frame_tx, frame_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("scrap-capture".into())
            .spawn(move || {
                let opened = scrap::Display::primary().and_then(|d| {
                    let (w, h) = (d.width(), d.height());
                    scrap::Capturer::new(d).map(|c| (c, w, h))
                });
                let (mut capturer, w, h) = match opened {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = setup_tx.send(Err(CaptureError::NoDisplay(format!(
                            "scrap cannot open the primary display: {e}"
                        ))));
                        return;
                    }
                };
                let _ = setup_tx.send(Ok((w as u32, h as u32)));
                while req_rx.recv().is_ok() {
                    let frame = grab(&mut capturer, w, h);
                    if frame_tx.send(frame).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| {
                CaptureError::NoDisplay(format!("cannot start the capture thread: {e}"))
            })?;
        let (width, height) = setup_rx
            .recv()
            .map_err(|_| CaptureError::NoDisplay("the capture thread died".into()))??;
        Ok(Self {
            requests: req_tx,
            frames: frame_rx,
            width,
            height,
        })
    }
}

/// One frame: scrap answers WouldBlock until the OS has a new image.
fn grab(capturer: &mut scrap::Capturer, w: usize, h: usize) -> Result<Frame, CaptureError> {
    let start = Instant::now();
    loop {
        match capturer.frame() {
            Ok(buf) => {
                // Rows may be padded (Windows, macOS): copy w pixels a row.
                let stride = buf.len() / h.max(1);
                if stride < w * 4 {
                    return Err(CaptureError::X11(format!(
                        "scrap frame of {} bytes is too small for {w}x{h}",
                        buf.len()
                    )));
                }
                let mut pixels = Vec::with_capacity(w * h);
                for row in buf.chunks(stride).take(h) {
                    pixels.extend(
                        row[..w * 4]
                            .chunks_exact(4)
                            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    );
                }
                return Frame::from_pixels(w as u32, h as u32, pixels)
                    .map_err(|e| CaptureError::X11(e.to_string()));
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < FRAME_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(CaptureError::X11(format!("scrap: {e}"))),
        }
    }
}

impl Capture for ScrapCapture {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        Ok(super::single_monitor("primary", self.width, self.height))
    }

    fn select(&mut self, monitor: Option<u32>) -> Result<(), CaptureError> {
        super::select_single(monitor)
    }

    fn capture(&mut self) -> Result<Frame, CaptureError> {
        self.requests
            .send(())
            .map_err(|_| CaptureError::X11("the capture thread died".into()))?;
        self.frames
            .recv()
            .map_err(|_| CaptureError::X11("the capture thread died".into()))?
    }
}
