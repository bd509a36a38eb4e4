//! The painter: an X11 client that plays a synthetic workload onto the root
//! window, so every tool under test sees the same screen changes.
//!
//! Only the rows and columns that changed since the previous frame are sent
//! (in bands of whole rows), which keeps the X server's work proportional to
//! what changed, as it would be for a real application drawing. Where the
//! server has MIT-SHM the pixels go through a shared segment
//! (`ShmPutImage`), as a video player's do; otherwise each band is a
//! `PutImage` under the request size limit.

use anyhow::{Context, bail};
use lifeline_agent::capture::x11::ShmSegment;
use lifeline_proto::screen::{Frame, synth::Synth};
use std::time::{Duration, Instant};
use x11rb::{
    connection::{Connection, RequestConnection},
    protocol::{
        shm::{self, ConnectionExt as _},
        xproto::{ConnectionExt as _, CreateGCAux, Gcontext, ImageFormat, Window},
    },
    rust_connection::RustConnection,
};

/// How a play went.
#[derive(Debug, Clone, Copy)]
pub struct Played {
    /// Frames per second actually reached.
    pub fps: f64,
    /// CPU seconds the painting thread took (to leave out of the
    /// benchmark process's own).
    pub cpu_s: f64,
}

/// A connection to the display with a graphics context on the root window.
pub struct Painter {
    conn: RustConnection,
    root: Window,
    gc: Gcontext,
    depth: u8,
    /// Rows per `PutImage`, so that a full-width band fits one request.
    band: u32,
    /// What is on the screen now (as far as this painter knows).
    shown: Option<Frame>,
    /// The shared segment holding a whole frame's pixels, where the server
    /// has MIT-SHM (made on the first paint).
    shm: Option<ShmSegment>,
    shm_supported: bool,
}

impl Drop for Painter {
    fn drop(&mut self) {
        if let Some(seg) = self.shm.take() {
            seg.release(&self.conn);
        }
    }
}

impl Painter {
    /// Connects to `display`.
    ///
    /// # Errors
    /// The display is unreachable or not 24/32-bit.
    pub fn connect(display: &str, width: u32) -> anyhow::Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display)).context("painter: connect")?;
        let (root, depth) = {
            let s = &conn.setup().roots[screen];
            (s.root, s.root_depth)
        };
        if depth != 24 && depth != 32 {
            bail!("painter: root depth {depth} is not 24 or 32");
        }
        let gc = conn.generate_id()?;
        conn.create_gc(gc, root, &CreateGCAux::new())?.check()?;
        // With BIG-REQUESTS this is megabytes; the cap keeps each request
        // small enough that the server interleaves other clients' work.
        let max = conn.maximum_request_bytes();
        let band = ((max.saturating_sub(64)) / (width as usize * 4)).clamp(1, 64) as u32;
        let shm_supported = conn
            .extension_information(shm::X11_EXTENSION_NAME)
            .ok()
            .flatten()
            .is_some();
        Ok(Self {
            conn,
            root,
            gc,
            depth,
            band,
            shown: None,
            shm: None,
            shm_supported,
        })
    }

    /// Whether the last paint went through a shared segment (MIT-SHM).
    #[must_use]
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// Puts all of `frame` on the screen and waits until the server has it.
    ///
    /// # Errors
    /// X protocol failures.
    pub fn show(&mut self, frame: &Frame) -> anyhow::Result<()> {
        self.shown = None;
        self.paint(frame)
    }

    /// Advances `synth` at `fps` for `duration`, painting every frame (a
    /// late frame is painted at once; none is skipped).
    ///
    /// # Errors
    /// X protocol failures.
    pub fn play(
        &mut self,
        synth: &mut Synth,
        fps: u32,
        duration: Duration,
    ) -> anyhow::Result<Played> {
        let period = Duration::from_secs(1) / fps.max(1);
        let cpu_start = super::procs::cpu_seconds("thread-self");
        let start = Instant::now();
        let mut frames = 0u32;
        while start.elapsed() < duration {
            let due = start + period * frames;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let frame = synth.next_frame();
            self.paint(frame)?;
            frames += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu_s = match (cpu_start, super::procs::cpu_seconds("thread-self")) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        Ok(Played {
            fps: f64::from(frames) / secs.max(1e-9),
            cpu_s,
        })
    }

    /// Sends the bands of `frame` that differ from what is shown, then
    /// round-trips so the frame is on the screen when this returns.
    fn paint(&mut self, frame: &Frame) -> anyhow::Result<()> {
        let (w, h) = (frame.width(), frame.height());
        let shown = self
            .shown
            .take()
            .filter(|s| (s.width(), s.height()) == (w, h));
        let len = w as usize * h as usize * 4;
        if self.shm_supported && self.shm.as_ref().is_none_or(|s| s.size() < len) {
            if let Some(old) = self.shm.take() {
                old.release(&self.conn);
            }
            match ShmSegment::create(&self.conn, len, true) {
                Ok(seg) => self.shm = Some(seg),
                Err(_) => self.shm_supported = false,
            }
        }
        let mut bytes = Vec::new();
        let mut y0 = 0;
        while y0 < h {
            let y1 = (y0 + self.band).min(h);
            let span = match &shown {
                None => Some((0, w)),
                Some(prev) => changed_columns(prev, frame, y0, y1),
            };
            if let Some((x0, x1)) = span {
                match self.shm.as_mut() {
                    Some(seg) => {
                        // The segment holds the frame at its place: write
                        // the band's span there, the server copies it out.
                        let Some(mem) = seg.bytes_mut(len) else {
                            bail!("painter: shared segment is read-only");
                        };
                        let stride = w as usize * 4;
                        put_span(frame, (x0, x1), (y0, y1), mem, stride, (0, x0 as usize * 4));
                        self.conn.shm_put_image(
                            self.root,
                            self.gc,
                            w as u16,
                            h as u16,
                            x0 as u16,
                            y0 as u16,
                            (x1 - x0) as u16,
                            (y1 - y0) as u16,
                            x0 as i16,
                            y0 as i16,
                            self.depth,
                            ImageFormat::Z_PIXMAP.into(),
                            false,
                            seg.seg(),
                            0,
                        )?;
                    }
                    None => {
                        let row_len = (x1 - x0) as usize * 4;
                        bytes.clear();
                        bytes.resize(row_len * (y1 - y0) as usize, 0);
                        put_span(frame, (x0, x1), (y0, y1), &mut bytes, row_len, (y0, 0));
                        self.conn.put_image(
                            ImageFormat::Z_PIXMAP,
                            self.root,
                            self.gc,
                            (x1 - x0) as u16,
                            (y1 - y0) as u16,
                            x0 as i16,
                            y0 as i16,
                            0,
                            self.depth,
                            &bytes,
                        )?;
                    }
                }
            }
            y0 = y1;
        }
        // Also what makes the segment safe to overwrite next time: the
        // server has done every request before this one.
        self.conn.get_input_focus()?.reply()?;
        let mut next = shown.unwrap_or_else(|| frame.clone());
        next.clone_from(frame);
        self.shown = Some(next);
        Ok(())
    }
}

/// Writes columns `x0..x1` of rows `y0..y1` of `frame` as little-endian
/// BGRX bytes into `dst`, row `y` at `(y - first_row) * stride + skip`
/// where `(first_row, skip) = origin`.
fn put_span(
    frame: &Frame,
    (x0, x1): (u32, u32),
    (y0, y1): (u32, u32),
    dst: &mut [u8],
    stride: usize,
    (first_row, skip): (u32, usize),
) {
    for y in y0..y1 {
        let row = &frame.row(y)[x0 as usize..x1 as usize];
        let at = (y - first_row) as usize * stride + skip;
        let out = &mut dst[at..at + row.len() * 4];
        for (d, p) in out.chunks_exact_mut(4).zip(row) {
            d.copy_from_slice(&p.to_le_bytes());
        }
    }
}

/// The smallest column range `x0..x1` covering every pixel that differs
/// between `a` and `b` in rows `y0..y1`, or `None` if none does.
fn changed_columns(a: &Frame, b: &Frame, y0: u32, y1: u32) -> Option<(u32, u32)> {
    let mut span: Option<(u32, u32)> = None;
    for y in y0..y1 {
        let (ra, rb) = (a.row(y), b.row(y));
        if ra == rb {
            continue;
        }
        let first = ra.iter().zip(rb).position(|(p, q)| p != q)?;
        let last = ra.iter().zip(rb).rposition(|(p, q)| p != q)?;
        let (x0, x1) = (first as u32, last as u32 + 1);
        span = Some(match span {
            None => (x0, x1),
            Some((s0, s1)) => (s0.min(x0), s1.max(x1)),
        });
    }
    span
}
