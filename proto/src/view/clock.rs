//! Time on a screen stream: frame capture times as ticks, and the clock
//! offset between agent and viewer from the handshake and the frames.

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

/// Narrows a clock-offset estimate (agent's clock minus the viewer's, in
/// microseconds) with one frame, captured at `captured_us` on the agent's
/// clock (as [`CaptureTicks`] gives it back, up to a tick early) and
/// decoded at `decoded_us` on the viewer's. The capture came before the
/// decode, so the offset is at least `captured - decoded`; and after the
/// viewer granted the credit the frame spent, at `granted_us`, so it is at
/// most `captured - granted` (plus the tick). A handshake on a link busy
/// one way misses by half the difference; frames bound that error, so a
/// latency never comes out negative.
#[must_use]
pub fn narrow_offset(
    offset_us: i64,
    captured_us: u64,
    granted_us: Option<u64>,
    decoded_us: u64,
) -> i64 {
    let captured = i128::from(captured_us);
    let lowest = captured - i128::from(decoded_us);
    let mut offset = i128::from(offset_us).max(lowest);
    if let Some(granted) = granted_us {
        let highest = captured + i128::from(CAPTURE_TICK_US) - i128::from(granted);
        if highest >= lowest {
            offset = offset.min(highest);
        }
    }
    i64::try_from(offset).unwrap_or(offset_us)
}

/// The path's round trip and the agent's clock minus the viewer's, both in
/// microseconds, from a `Start` sent at `sent_us` and read by the agent at
/// `agent_start_us`, and a `Ready` sent at `agent_time_us` and received at
/// `received_us` (each side's times on its own clock). The agent's time
/// between the two (opening the capture) counts in neither.
#[must_use]
pub fn handshake_timing(
    sent_us: u64,
    agent_start_us: u64,
    agent_time_us: u64,
    received_us: u64,
) -> (u64, i64) {
    let held = agent_time_us.saturating_sub(agent_start_us);
    let rtt = received_us.saturating_sub(sent_us).saturating_sub(held);
    let there = i128::from(agent_start_us) - i128::from(sent_us);
    let back = i128::from(agent_time_us) - i128::from(received_us);
    let offset = i64::try_from((there + back) / 2).unwrap_or(0);
    (rtt, offset)
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
    fn frames_bound_the_clock_offset_between_their_credit_and_their_decode() {
        // Agent clock 5 s ahead. A credit granted at 1.000 s, the frame it
        // let go captured at 1.020 s (agent: 6.020 s), decoded at 1.045 s.
        let (granted, captured, decoded) = (1_000_000, 6_020_000, 1_045_000);
        // A handshake 60 ms too low would make the latency negative:
        // raised to the least the decode allows (latency 0).
        let low = narrow_offset(4_940_000, captured, Some(granted), decoded);
        assert_eq!(low, 4_975_000);
        // 60 ms too high: lowered to the most the credit allows (+ a tick).
        let high = narrow_offset(5_060_000, captured, Some(granted), decoded);
        assert_eq!(high, 5_020_100);
        // Inside both bounds: kept.
        assert_eq!(
            narrow_offset(5_001_000, captured, Some(granted), decoded),
            5_001_000
        );
        // Without a credit to go by, only the lower bound.
        assert_eq!(narrow_offset(5_060_000, captured, None, decoded), 5_060_000);
        // Bounds that contradict each other (a clock that stepped) leave the
        // upper one out.
        assert_eq!(
            narrow_offset(0, captured, Some(decoded + 1_000_000), decoded),
            4_975_000
        );
    }

    #[test]
    fn the_handshake_leaves_the_agents_own_time_out_of_the_round_trip() {
        // Agent clock 5 s ahead; 20 ms there, 30 ms back; 400 ms opening
        // the capture.
        let sent = 1_000_000_000;
        let agent_start = sent + 5_000_000 + 20_000;
        let agent_time = agent_start + 400_000;
        let received = agent_time - 5_000_000 + 30_000;
        let (rtt, offset) = handshake_timing(sent, agent_start, agent_time, received);
        assert_eq!(rtt, 50_000);
        // Off by half the asymmetry (5 ms), as any two-way estimate is.
        assert_eq!(offset, 5_000_000 - 5_000);
        // A clock stepping back inside the agent does not underflow.
        assert_eq!(handshake_timing(sent, agent_time, agent_start, sent).0, 0);
    }
}
