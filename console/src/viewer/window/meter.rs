//! The status bar's figures: frames, bits and latency over the last second.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// How far back the status bar looks. One second makes "fps" literal and
/// still reacts quickly when the remote screen goes quiet.
pub const WINDOW: Duration = Duration::from_secs(1);

/// One decoded frame as the meter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSample {
    /// When the frame was decoded on this machine.
    pub at: Instant,
    /// Encoded size on the wire.
    pub bytes: usize,
    /// Capture on the agent to decode here, clock-offset corrected.
    pub latency_us: i64,
}

/// What the status bar shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Frames decoded during the last [`WINDOW`].
    pub fps: f64,
    /// Screen data received during the last [`WINDOW`], in kbit/s.
    pub kbit_per_s: f64,
    /// Median latency of those frames; `None` when there were none.
    pub latency_ms_p50: Option<f64>,
}

/// A sliding window of frame samples.
#[derive(Debug, Default)]
pub struct Meter {
    samples: VecDeque<FrameSample>,
}

impl Meter {
    /// Adds a frame; samples older than the window are dropped here so the
    /// queue stays small even if nobody asks for a summary.
    pub fn record(&mut self, sample: FrameSample) {
        self.samples.push_back(sample);
        self.expire(sample.at);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(first) = self.samples.front() {
            if now.saturating_duration_since(first.at) <= WINDOW {
                break;
            }
            self.samples.pop_front();
        }
    }

    /// The figures for the window that ends at `now`.
    pub fn summary(&mut self, now: Instant) -> Summary {
        self.expire(now);
        let secs = WINDOW.as_secs_f64();
        let bytes: usize = self.samples.iter().map(|s| s.bytes).sum();
        let mut latencies: Vec<i64> = self.samples.iter().map(|s| s.latency_us.max(0)).collect();
        latencies.sort_unstable();
        // The lower median: with two samples, show the better one rather
        // than invent an average that no frame had.
        let latency_ms_p50 = latencies
            .get(latencies.len().saturating_sub(1) / 2)
            .map(|us| *us as f64 / 1000.0);
        Summary {
            fps: self.samples.len() as f64 / secs,
            kbit_per_s: bytes as f64 * 8.0 / 1000.0 / secs,
            latency_ms_p50,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: Instant, bytes: usize, latency_ms: i64) -> FrameSample {
        FrameSample {
            at,
            bytes,
            latency_us: latency_ms * 1000,
        }
    }

    #[test]
    fn counts_only_the_last_second() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.record(sample(t0, 1000, 50));
        for i in 0..10 {
            m.record(sample(
                t0 + Duration::from_millis(1100 + i * 50),
                500,
                10 + i as i64,
            ));
        }
        let s = m.summary(t0 + Duration::from_millis(1600));
        assert_eq!(s.fps, 10.0);
        assert_eq!(s.kbit_per_s, 40.0);
        assert_eq!(s.latency_ms_p50, Some(14.0));
    }

    #[test]
    fn a_quiet_screen_reads_zero() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.record(sample(t0, 1000, 5));
        let s = m.summary(t0 + Duration::from_secs(3));
        assert_eq!(s, Summary::default());
    }
}
