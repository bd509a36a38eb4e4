//! Deterministic synthetic screens for tests, the synthetic capture backend
//! and benchmarks.
//!
//! Every workload is a pure function of its seed and frame count, so a test
//! failure replays exactly. The font is a made-up 8x16 bitmap font: glyphs
//! are pseudo-random pixel patterns, which look to the codec like text does
//! (sharp two-colour edges, repeated shapes), not like noise.

use super::frame::{Frame, FrameError};

/// Which kind of screen activity to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A terminal that does not change at all.
    Idle,
    /// A terminal where a few characters appear at the cursor each frame.
    Typing,
    /// A text view under a fixed title bar scrolling one line per frame.
    Scrolling,
    /// A window dragged across a desktop background a few pixels per frame.
    WindowDrag,
    /// Full-screen changing pseudo-random content, like video.
    Video,
}

impl Workload {
    /// Every workload, for tests and benchmarks that sweep them.
    pub const ALL: [Workload; 5] = [
        Workload::Idle,
        Workload::Typing,
        Workload::Scrolling,
        Workload::WindowDrag,
        Workload::Video,
    ];
}

/// A small xorshift generator: deterministic and dependency-free.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (zero is remapped: xorshift must not be 0).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`; slight bias is irrelevant here).
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u64() >> 32) % u64::from(n.max(1))) as u32
    }
}

/// Glyph cell width in pixels.
pub const CELL_W: u32 = 8;
/// Glyph cell height (one text line) in pixels.
pub const CELL_H: u32 = 16;
const GLYPHS: usize = 64;
const BG: u32 = 0x001E_1E1E;
const FG: u32 = 0x00D0_D0D0;
const TITLE_BG: u32 = 0x0030_3060;
/// Height of the fixed title bar above the scrolling text.
const TITLE_H: u32 = 40;

/// A generated 8x16 font: one bitmask byte per glyph row; glyph 0 is blank.
fn make_font(seed: u64) -> Vec<[u8; 16]> {
    let mut rng = XorShift::new(seed ^ 0xF0F0);
    (0..GLYPHS)
        .map(|g| {
            let mut rows = [0u8; 16];
            if g > 0 {
                // Rows 3..13 leave line spacing; bits 1..6 leave letter gaps.
                for row in &mut rows[3..13] {
                    *row = (rng.next_u64() as u8) & 0x7E;
                }
            }
            rows
        })
        .collect()
}

/// Generates successive frames of one workload.
pub struct Synth {
    workload: Workload,
    frame: Frame,
    rng: XorShift,
    font: Vec<[u8; 16]>,
    /// Cursor cell (typing) in columns and rows.
    cursor: (u32, u32),
    /// Window position and velocity (window drag).
    window: (i32, i32, i32, i32),
    background: Vec<u32>,
    window_px: Frame,
    tick: u32,
}

impl Synth {
    /// A generator for `width x height` frames.
    ///
    /// # Errors
    /// [`FrameError::BadSize`] for a size a [`Frame`] cannot have.
    pub fn new(workload: Workload, width: u32, height: u32, seed: u64) -> Result<Self, FrameError> {
        let frame = Frame::filled(width, height, BG)?;
        let window_px = Frame::filled((width / 2).max(1), (height / 2).max(1), 0)?;
        let mut s = Self {
            workload,
            frame,
            rng: XorShift::new(seed),
            font: make_font(seed),
            cursor: (0, 0),
            window: (width as i32 / 8, height as i32 / 8, 12, 5),
            background: Vec::new(),
            window_px,
            tick: 0,
        };
        s.first_frame();
        Ok(s)
    }

    /// A 1920x1080 generator.
    #[must_use]
    pub fn full_hd(workload: Workload, seed: u64) -> Self {
        match Self::new(workload, 1920, 1080, seed) {
            Ok(s) => s,
            // 1920x1080 is always a valid size.
            Err(_) => unreachable!("1920x1080 is a valid frame size"),
        }
    }

    /// The current frame.
    #[must_use]
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Advances one frame and returns it.
    pub fn next_frame(&mut self) -> &Frame {
        self.tick += 1;
        match self.workload {
            Workload::Idle => {}
            Workload::Typing => self.type_some(),
            Workload::Scrolling => self.scroll(),
            Workload::WindowDrag => self.drag(),
            Workload::Video => self.video(),
        }
        &self.frame
    }

    fn first_frame(&mut self) {
        let (w, h) = (self.frame.width(), self.frame.height());
        match self.workload {
            Workload::Idle | Workload::Typing => {
                let rows = h / CELL_H;
                for row in 0..rows * 2 / 3 {
                    self.text_line(0, row * CELL_H, w / CELL_W, FG, BG);
                }
                self.cursor = (0, rows * 2 / 3);
                self.draw_cursor(FG);
            }
            Workload::Scrolling => {
                fill_rect(&mut self.frame, 0, 0, w, TITLE_H.min(h), TITLE_BG);
                let mut y = TITLE_H;
                while y + CELL_H <= h {
                    self.text_line(0, y, w / CELL_W, FG, BG);
                    y += CELL_H;
                }
            }
            Workload::WindowDrag => self.build_desktop(),
            Workload::Video => self.video(),
        }
    }

    /// Draws glyph `g` with its top-left corner at `(x, y)`, clipped.
    fn glyph(&mut self, g: usize, x: u32, y: u32, fg: u32, bg: u32) {
        let rows = self.font[g % GLYPHS];
        draw_glyph(&mut self.frame, &rows, x, y, fg, bg);
    }

    /// A line of random words starting at `(x, y)`, `cols` cells long.
    fn text_line(&mut self, x: u32, y: u32, cols: u32, fg: u32, bg: u32) {
        let len = self.rng.below(cols.max(1));
        for c in 0..cols {
            let g = if c < len && self.rng.below(6) != 0 {
                1 + self.rng.below(GLYPHS as u32 - 1) as usize
            } else {
                0
            };
            self.glyph(g, x + c * CELL_W, y, fg, bg);
        }
    }

    fn draw_cursor(&mut self, color: u32) {
        let (cx, cy) = self.cursor;
        fill_rect(
            &mut self.frame,
            cx * CELL_W,
            cy * CELL_H,
            CELL_W,
            CELL_H,
            color,
        );
    }

    fn type_some(&mut self) {
        let cols = (self.frame.width() / CELL_W).max(1);
        let rows = (self.frame.height() / CELL_H).max(1);
        for _ in 0..1 + self.rng.below(3) {
            let (cx, cy) = self.cursor;
            let g = if self.rng.below(6) == 0 {
                0
            } else {
                1 + self.rng.below(GLYPHS as u32 - 1) as usize
            };
            self.glyph(g, cx * CELL_W, cy * CELL_H, FG, BG);
            self.cursor = if cx + 1 >= cols || self.rng.below(50) == 0 {
                (0, (cy + 1) % rows)
            } else {
                (cx + 1, cy)
            };
        }
        self.draw_cursor(FG);
    }

    fn scroll(&mut self) {
        let (w, h) = (self.frame.width(), self.frame.height());
        if h < TITLE_H + 2 * CELL_H {
            return;
        }
        let start = (TITLE_H * w) as usize;
        let shift = (CELL_H * w) as usize;
        self.frame.pixels_mut().copy_within(start + shift.., start);
        let y = h - CELL_H;
        self.text_line(0, y, w / CELL_W, FG, BG);
    }

    fn build_desktop(&mut self) {
        let (w, h) = (self.frame.width(), self.frame.height());
        // A two-axis gradient: smooth like a wallpaper, unique along a row.
        for y in 0..h {
            for x in 0..w {
                let r = x * 255 / w.max(1);
                let g = y * 255 / h.max(1);
                let b = (x + y) & 0x3F;
                self.frame.pixels_mut()[(y * w + x) as usize] = (r << 16) | (g << 8) | (b + 64);
            }
        }
        self.background = self.frame.pixels().to_vec();
        // Paint the window once into the frame, then keep a copy of it.
        let (ww, wh) = (self.window_px.width(), self.window_px.height());
        let saved = self.frame.clone();
        fill_rect(&mut self.frame, 0, 0, ww, wh, BG);
        fill_rect(&mut self.frame, 0, 0, ww, 24.min(wh), TITLE_BG);
        let mut y = 32;
        while y + CELL_H <= wh {
            self.text_line(8, y, (ww.saturating_sub(16)) / CELL_W, FG, BG);
            y += CELL_H;
        }
        for yy in 0..wh {
            let src = &self.frame.row(yy)[..ww as usize];
            let d = (yy * ww) as usize;
            self.window_px.pixels_mut()[d..d + ww as usize].copy_from_slice(src);
        }
        self.frame = saved;
        self.blit_window(true);
    }

    /// Draws the window at its position (or restores the desktop under it).
    fn blit_window(&mut self, draw: bool) {
        let (fw, fh) = (self.frame.width() as i32, self.frame.height() as i32);
        let (ww, wh) = (
            self.window_px.width() as i32,
            self.window_px.height() as i32,
        );
        let (wx, wy, _, _) = self.window;
        for y in wy.max(0)..(wy + wh).min(fh) {
            let x0 = wx.max(0);
            let x1 = (wx + ww).min(fw);
            if x1 <= x0 {
                continue;
            }
            let d = (y * fw + x0) as usize;
            let n = (x1 - x0) as usize;
            let src = if draw {
                let s = ((y - wy) * ww + (x0 - wx)) as usize;
                &self.window_px.pixels()[s..s + n]
            } else {
                &self.background[d..d + n]
            };
            self.frame.pixels_mut()[d..d + n].copy_from_slice(src);
        }
    }

    fn drag(&mut self) {
        self.blit_window(false);
        let (fw, fh) = (self.frame.width() as i32, self.frame.height() as i32);
        let (ww, wh) = (
            self.window_px.width() as i32,
            self.window_px.height() as i32,
        );
        let (mut x, mut y, mut vx, mut vy) = self.window;
        if x + vx < 0 || x + vx + ww > fw {
            vx = -vx;
        }
        if y + vy < 0 || y + vy + wh > fh {
            vy = -vy;
        }
        x += vx;
        y += vy;
        self.window = (x, y, vx, vy);
        self.blit_window(true);
    }

    fn video(&mut self) {
        let w = self.frame.width() as usize;
        let t = self.tick;
        // Moving colour bands (red across, green down, blue in time) plus
        // per-pixel grey noise in the low four bits; `across` is each
        // column's red and blue.
        let across: Vec<u32> = (0..w as u32)
            .map(|x| ((x / 8 + t * 3) & 0xFF) << 16 | (t & 0xFF))
            .collect();
        let rng = &mut self.rng;
        for (y, row) in self
            .frame
            .pixels_mut()
            .chunks_exact_mut(w.max(1))
            .enumerate()
        {
            let green = ((y as u32 / 8 + t * 2) & 0xFF) << 8;
            for (px, base) in row.chunks_mut(8).zip(across.chunks(8)) {
                let bits = rng.next_u64();
                for (k, (p, &b)) in px.iter_mut().zip(base).enumerate() {
                    let noise = (bits >> (k * 8)) as u32 & 0x0F;
                    *p = (b | green) ^ (noise * 0x0001_0101);
                }
            }
        }
    }
}

fn draw_glyph(f: &mut Frame, rows: &[u8; 16], x: u32, y: u32, fg: u32, bg: u32) {
    let (w, h) = (f.width(), f.height());
    for (dy, bits) in rows.iter().enumerate() {
        let yy = y + dy as u32;
        if yy >= h {
            break;
        }
        for dx in 0..CELL_W {
            let xx = x + dx;
            if xx >= w {
                break;
            }
            let on = bits & (0x80 >> dx) != 0;
            f.pixels_mut()[(yy * w + xx) as usize] = if on { fg } else { bg };
        }
    }
}

fn fill_rect(f: &mut Frame, x: u32, y: u32, w: u32, h: u32, color: u32) {
    let (fw, fh) = (f.width(), f.height());
    for yy in y..(y + h).min(fh) {
        let start = (yy * fw + x.min(fw)) as usize;
        let end = (yy * fw + (x + w).min(fw)) as usize;
        f.pixels_mut()[start..end].fill(color);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic_and_change_as_described() {
        for wl in Workload::ALL {
            let mut a = Synth::new(wl, 320, 200, 7).unwrap();
            let mut b = Synth::new(wl, 320, 200, 7).unwrap();
            let first = a.frame().clone();
            for _ in 0..3 {
                assert_eq!(a.next_frame(), b.next_frame());
            }
            let changed = a.frame() != &first;
            assert_eq!(changed, wl != Workload::Idle, "{wl:?}");
        }
    }
}
