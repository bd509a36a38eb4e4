//! Messages of a screen stream ([`crate::Channel::Screen`]).
//!
//! The console opens the stream and sends [`ViewerToAgent::Start`]; the agent
//! answers with [`AgentToViewer::Ready`] and then frames, paced by credits:
//! the viewer grants one credit per frame it has decoded, and the agent sends
//! a frame only while it holds a credit, always encoding the newest screen.

use serde::{Deserialize, Serialize};

/// Largest frame accepted on a screen stream (a raw 4K key frame fits).
pub const MAX_SCREEN_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Credits a viewer grants up front: one frame being decoded, one in flight.
pub const INITIAL_CREDITS: u32 = 2;

/// One monitor of the agent's machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInfo {
    pub index: u32,
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

/// A cursor image: `width * height` pixels of premultiplied-free ARGB.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorShape {
    pub width: u16,
    pub height: u16,
    pub hot_x: u16,
    pub hot_y: u16,
    pub argb: Vec<u32>,
}

/// Where the pointer is, relative to the captured area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    pub x: i32,
    pub y: i32,
    /// Set when the shape changed since the last cursor message.
    pub shape: Option<CursorShape>,
}

/// Console to agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewerToAgent {
    /// Begin streaming. `viewer_time_us` is the viewer's wall clock, echoed
    /// into the clock-offset estimate.
    Start {
        monitor: Option<u32>,
        max_fps: u32,
        credits: u32,
        viewer_time_us: u64,
    },
    /// The viewer decoded its `seq`-th frame (counting from 1); grant
    /// `credits` more.
    Credit { seq: u64, credits: u32 },
    /// Send a full frame next (after a decode error or a window resize).
    KeyFrame,
    /// Show another monitor (`None`: all).
    SelectMonitor(Option<u32>),
    /// Send large moving areas (a video) at reduced resolution (brightness
    /// at half, colour at a quarter) while they move, exact again as soon
    /// as they hold still (`false`: every frame exact, the default).
    Motion { coarse: bool },
}

/// Microseconds in one tick of a frame's capture time.
pub const CAPTURE_TICK_US: u64 = 100;

/// Frame capture times as whole ticks since the stream's start, sent as
/// steps from one frame to the next: the agent turns times into steps,
/// the viewer steps back into times (at most one tick early).
#[derive(Clone, Copy, Debug)]
pub struct CaptureTicks {
    start_us: u64,
    ticks: u64,
}

impl CaptureTicks {
    /// Counting from `start_us` (Ready's `agent_time_us`).
    #[must_use]
    pub fn new(start_us: u64) -> Self {
        Self { start_us, ticks: 0 }
    }

    /// Agent: the step for a frame captured at `at_us` (0 for a time
    /// before the last frame's).
    pub fn step(&mut self, at_us: u64) -> u64 {
        let ticks = at_us.saturating_sub(self.start_us) / CAPTURE_TICK_US;
        let step = ticks.saturating_sub(self.ticks);
        self.ticks += step;
        step
    }

    /// Viewer: the agent-clock time of the frame `step` ticks after the
    /// last one.
    pub fn advance(&mut self, step: u64) -> u64 {
        self.ticks = self.ticks.saturating_add(step);
        self.start_us
            .saturating_add(self.ticks.saturating_mul(CAPTURE_TICK_US))
    }
}

/// Agent to console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToViewer {
    /// Streaming starts. `agent_time_us` is the agent's wall clock when it
    /// answered, so the viewer can estimate the offset between the clocks as
    /// `agent_time_us - (sent + received) / 2`.
    Ready {
        monitors: Vec<MonitorInfo>,
        selected: Option<u32>,
        viewer_time_us: u64,
        agent_time_us: u64,
    },
    /// One encoded frame (numbered by the codec's own header), captured
    /// `capture_step` ticks of [`CAPTURE_TICK_US`] after the previous
    /// frame (the first: after [`AgentToViewer::Ready`]'s `agent_time_us`)
    /// on the agent's clock, as [`CaptureTicks`] counts: two bytes on the
    /// wire at 60 fps, where an absolute time would take eight.
    Frame {
        capture_step: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The pointer moved or changed shape.
    Cursor(CursorState),
    /// Screen sharing cannot go on; the message is for the technician.
    Error { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_times_survive_the_steps_within_a_tick() {
        let start = 1_700_000_000_000_000;
        let (mut agent, mut viewer) = (CaptureTicks::new(start), CaptureTicks::new(start));
        // 60 fps with jitter, a pause, a clock that stepped back.
        let mut at = start;
        for i in 0..1000u64 {
            at += match i {
                500 => 90_000_000,
                _ => 16_000 + (i * 7_919) % 1_400,
            };
            let seen = viewer.advance(agent.step(at));
            assert!(
                seen <= at && at - seen < CAPTURE_TICK_US,
                "{i}: {seen} for {at}"
            );
        }
        assert_eq!(viewer.advance(agent.step(at - 5_000)), at - at % 100);
    }

    #[test]
    fn a_typing_frame_costs_four_bytes_around_its_data() {
        let msg = AgentToViewer::Frame {
            capture_step: 167,
            data: vec![1; 31],
        };
        // Variant, a two-byte step, the data's length byte.
        assert_eq!(postcard::to_stdvec(&msg).unwrap().len(), 1 + 2 + 1 + 31);
    }
}
