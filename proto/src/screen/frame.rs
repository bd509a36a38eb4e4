//! The pixel frame: one captured screen image.

use super::MAX_DIM;

/// Why a [`Frame`] could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A side is zero or larger than [`MAX_DIM`].
    #[error("frame size {width}x{height} outside 1..={max} per side")]
    BadSize {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// Largest side accepted.
        max: u32,
    },
    /// The pixel buffer does not hold exactly `width * height` pixels.
    #[error("pixel buffer holds {got} pixels, {want} expected")]
    BadLength {
        /// Pixels (or bytes / 4) supplied.
        got: usize,
        /// Pixels needed for the size.
        want: usize,
    },
}

/// A screen image: `width * height` pixels, rows top to bottom, no padding.
///
/// Each pixel is one `u32` read little-endian from BGRX/BGRA bytes, which is
/// exactly what an X11 ZPixmap of depth 24/32 delivers (stride = width * 4),
/// so `0xXXRRGGBB`. The fourth byte is kept as captured: the codec is
/// lossless on all 32 bits, padding included.
///
/// The fields are private so the length invariant always holds; the codec
/// indexes pixels without re-checking it.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

impl std::fmt::Debug for Frame {
    // Printing megabytes of pixels helps nobody; show the shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn check_size(width: u32, height: u32) -> Result<usize, FrameError> {
    if width == 0 || height == 0 || width > MAX_DIM || height > MAX_DIM {
        return Err(FrameError::BadSize {
            width,
            height,
            max: MAX_DIM,
        });
    }
    Ok(width as usize * height as usize)
}

impl Frame {
    /// A frame filled with one colour.
    ///
    /// # Errors
    /// [`FrameError::BadSize`] when a side is 0 or above [`MAX_DIM`].
    pub fn filled(width: u32, height: u32, color: u32) -> Result<Self, FrameError> {
        let n = check_size(width, height)?;
        Ok(Self {
            width,
            height,
            pixels: vec![color; n],
        })
    }

    /// Wraps a pixel vector of exactly `width * height` pixels.
    ///
    /// # Errors
    /// [`FrameError::BadSize`] or [`FrameError::BadLength`].
    pub fn from_pixels(width: u32, height: u32, pixels: Vec<u32>) -> Result<Self, FrameError> {
        let want = check_size(width, height)?;
        if pixels.len() != want {
            return Err(FrameError::BadLength {
                got: pixels.len(),
                want,
            });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Builds a frame from tightly packed BGRX/BGRA bytes (stride = width * 4).
    ///
    /// # Errors
    /// [`FrameError::BadSize`] or [`FrameError::BadLength`].
    pub fn from_bgrx(width: u32, height: u32, bytes: &[u8]) -> Result<Self, FrameError> {
        let want = check_size(width, height)?;
        if bytes.len() != want * 4 {
            return Err(FrameError::BadLength {
                got: bytes.len() / 4,
                want,
            });
        }
        let pixels = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// The frame as tightly packed BGRX/BGRA bytes (stride = width * 4).
    #[must_use]
    pub fn to_bgrx(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|p| p.to_le_bytes()).collect()
    }

    /// Width in pixels.
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// All pixels, row-major.
    #[must_use]
    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    /// All pixels, row-major, for drawing in place (the size cannot change).
    pub fn pixels_mut(&mut self) -> &mut [u32] {
        &mut self.pixels
    }

    /// One row of pixels.
    ///
    /// # Panics
    /// If `y >= height` (a caller bug, never peer data).
    #[must_use]
    pub fn row(&self, y: u32) -> &[u32] {
        let w = self.width as usize;
        let start = y as usize * w;
        &self.pixels[start..start + w]
    }

    /// Pixel at `(x, y)`, or `None` outside the frame.
    #[must_use]
    pub fn get(&self, x: u32, y: u32) -> Option<u32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        self.pixels
            .get(y as usize * self.width as usize + x as usize)
            .copied()
    }
}
