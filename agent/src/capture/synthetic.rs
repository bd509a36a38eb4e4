//! A deterministic screen for tests and benchmarks: the codec's synthetic
//! workloads, advanced one step per capture.

use super::{Capture, CaptureError};
use lifeline_proto::screen::{
    Frame,
    synth::{Synth, Workload},
};
use lifeline_proto::view::MonitorInfo;

/// Parses a workload name: idle, typing, scrolling, drag, video.
///
/// # Errors
/// An unknown name, listing the known ones.
pub fn parse_workload(name: &str) -> Result<Workload, CaptureError> {
    Ok(match name {
        "idle" => Workload::Idle,
        "typing" => Workload::Typing,
        "scrolling" => Workload::Scrolling,
        "drag" => Workload::WindowDrag,
        "video" => Workload::Video,
        other => {
            return Err(CaptureError::NoDisplay(format!(
                "unknown synthetic workload {other:?}: use idle, typing, scrolling, drag or video"
            )));
        }
    })
}

/// A 1920×1080 synthetic screen.
pub struct SyntheticCapture {
    synth: Synth,
    started: bool,
}

impl SyntheticCapture {
    /// A source playing `workload`, seeded identically every time.
    pub fn new(workload: Workload) -> Self {
        Self {
            synth: Synth::full_hd(workload, 1),
            started: false,
        }
    }
}

impl Capture for SyntheticCapture {
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let f = self.synth.frame();
        Ok(super::single_monitor("synthetic", f.width(), f.height()))
    }

    fn select(&mut self, monitor: Option<u32>) -> Result<(), CaptureError> {
        super::select_single(monitor)
    }

    fn capture(&mut self) -> Result<Frame, CaptureError> {
        if !self.started {
            self.started = true;
            return Ok(self.synth.frame().clone());
        }
        Ok(self.synth.next_frame().clone())
    }
}
