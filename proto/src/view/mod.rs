//! Messages of a screen stream ([`crate::Channel::Screen`]).
//!
//! The console opens the stream and sends [`ViewerToAgent::Start`]; the agent
//! answers with [`AgentToViewer::Ready`] and then frames, paced by credits:
//! the viewer grants credits as it decodes frames ([`CreditWindow`] says how
//! many), and the agent sends a frame only while it holds a credit, always
//! encoding the newest screen.

mod clock;
mod credits;

pub use clock::{CAPTURE_TICK_US, CaptureTicks, handshake_timing, narrow_offset};
pub use credits::{
    BASE_FRAMES, CreditWindow, INITIAL_CREDITS, LARGE_FRAME, MAX_CREDITS, PROBE_INTERVAL_US,
    PROBE_QUIET_BYTES, PROBE_SAMPLES, SLOW_CREDIT_US, THIN_LINK_BPS,
};

use serde::{Deserialize, Serialize};

/// Largest frame accepted on a screen stream (a raw 4K key frame fits).
pub const MAX_SCREEN_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Highest frame rate an agent captures at (a viewer asking more gets this).
pub const MAX_FPS: u32 = 120;

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

/// Agent to console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToViewer {
    /// Streaming starts. `agent_start_us` is the agent's wall clock when it
    /// read `Start`, `agent_time_us` when it answered (after opening the
    /// capture), so the viewer, with its own send and receive times, knows
    /// the path's round trip and the offset between the clocks
    /// ([`handshake_timing`]).
    Ready {
        monitors: Vec<MonitorInfo>,
        selected: Option<u32>,
        viewer_time_us: u64,
        agent_start_us: u64,
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
    fn a_typing_frame_costs_four_bytes_around_its_data() {
        let msg = AgentToViewer::Frame {
            capture_step: 167,
            data: vec![1; 31],
        };
        // Variant, a two-byte step, the data's length byte.
        assert_eq!(postcard::to_stdvec(&msg).unwrap().len(), 1 + 2 + 1 + 31);
    }
}
