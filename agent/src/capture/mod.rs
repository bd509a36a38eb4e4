//! The capture facade: one trait, backends chosen at run time.
//!
//! - [`x11::X11Capture`]: X11 via x11rb and MIT-SHM (the Linux default).
//! - [`synthetic::SyntheticCapture`]: deterministic workloads for tests and
//!   benchmarks.
//! - `scrap_backend::ScrapCapture` (cargo feature `scrap`): the Windows and
//!   macOS path, `--capture scrap`.

#[cfg(feature = "scrap")]
pub mod scrap_backend;
mod shm;
pub mod synthetic;
pub mod x11;

use lifeline_proto::screen::{Frame, Rect};
use lifeline_proto::view::{CursorState, MonitorInfo};

/// Capturing failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No display to capture: the message says why, for the technician.
    #[error("no display ({0})")]
    NoDisplay(String),
    /// The X server failed a request.
    #[error("X11 capture failed: {0}")]
    X11(String),
    /// A monitor index that does not exist.
    #[error("no monitor {index}: this machine has {count}")]
    NoSuchMonitor { index: u32, count: usize },
    /// Setting up shared memory failed.
    #[error("shared memory: {0}")]
    Shm(String),
}

/// A screen source.
pub trait Capture: Send {
    /// The monitors this source can show, in order.
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError>;

    /// Restricts capture to one monitor, or `None` for all of them.
    ///
    /// # Errors
    /// [`CaptureError::NoSuchMonitor`].
    fn select(&mut self, monitor: Option<u32>) -> Result<(), CaptureError>;

    /// The current image of the selected area. The size may change between
    /// calls (resolution change); the encoder then sends a key frame.
    ///
    /// # Errors
    /// Backend failures.
    fn capture(&mut self) -> Result<Frame, CaptureError>;

    /// Brings `frame` up to date with the screen and says where it may have
    /// changed: `Some(rects)` (in the frame's coordinates) when only what
    /// was reported drawn since the last read was read into it, `None`
    /// when all of it was read (`whole`, no frame yet, another size, or a
    /// source that cannot tell: the default, which reads it all).
    ///
    /// # Errors
    /// As [`Capture::capture`].
    fn capture_into(
        &mut self,
        frame: &mut Option<Frame>,
        whole: bool,
    ) -> Result<Option<Vec<Rect>>, CaptureError> {
        let _ = whole;
        *frame = Some(self.capture()?);
        Ok(None)
    }

    /// `false` when the source knows that nothing was drawn on the screen
    /// since the last [`Capture::capture`] (X11's DAMAGE extension), so
    /// an idle screen is neither read nor compared; `true` when something
    /// was, or when the source cannot tell (the default).
    fn may_have_changed(&mut self) -> bool {
        true
    }

    /// Pointer position relative to the captured area, and its shape when it
    /// changed since the last call.
    fn cursor(&mut self) -> Option<CursorState> {
        None
    }
}

/// The monitor list of a source with one screen of `width`×`height`.
pub(crate) fn single_monitor(name: &str, width: u32, height: u32) -> Vec<MonitorInfo> {
    vec![MonitorInfo {
        index: 0,
        name: name.into(),
        x: 0,
        y: 0,
        width,
        height,
        primary: true,
    }]
}

/// [`Capture::select`] for a source with one screen.
pub(crate) fn select_single(monitor: Option<u32>) -> Result<(), CaptureError> {
    match monitor {
        None | Some(0) => Ok(()),
        Some(index) => Err(CaptureError::NoSuchMonitor { index, count: 1 }),
    }
}

/// A capture factory for a `--capture` value: `x11` (the default, on
/// `DISPLAY`) or `synthetic:WORKLOAD` (idle, typing, scrolling, drag, video).
///
/// # Errors
/// An unknown backend or workload name.
pub fn factory(spec: &str) -> Result<crate::screen::CaptureFactory, CaptureError> {
    match spec.split_once(':') {
        None if spec == "x11" => Ok(std::sync::Arc::new(open_default)),
        #[cfg(feature = "scrap")]
        None if spec == "scrap" => Ok(std::sync::Arc::new(|| {
            Ok(Box::new(scrap_backend::ScrapCapture::open()?) as Box<dyn Capture>)
        })),
        Some(("synthetic", workload)) => {
            let workload = synthetic::parse_workload(workload)?;
            Ok(std::sync::Arc::new(move || {
                Ok(Box::new(synthetic::SyntheticCapture::new(workload)) as Box<dyn Capture>)
            }))
        }
        _ => Err(CaptureError::X11(format!(
            "unknown capture source {spec:?}: use x11, synthetic:WORKLOAD{}",
            if cfg!(feature = "scrap") {
                " or scrap"
            } else {
                " (scrap needs an agent built with the `scrap` feature)"
            }
        ))),
    }
}

/// Opens the default backend for this machine: X11 on `DISPLAY`.
///
/// # Errors
/// [`CaptureError::NoDisplay`] with a reason a technician can act on.
pub fn open_default() -> Result<Box<dyn Capture>, CaptureError> {
    Ok(Box::new(x11::X11Capture::open(None)?))
}
