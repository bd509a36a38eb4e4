//! Exponential backoff with jitter for reconnecting to the relay.

use std::time::Duration;

/// Reconnect delays: doubling from `base` up to `max`, each delay drawn
/// uniformly from its upper half so that a fleet of agents that lost the
/// relay together does not come back in lock step.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base`, never longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// The next delay; `random` is any uniformly random `u64`.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let exp = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_millis() as u64;
        let half = ceiling / 2;
        Duration::from_millis(half + random % (ceiling - half + 1))
    }

    /// Back to the first delay, after a connection that worked for a while.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A random `u64` from the OS.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let lows: Vec<u64> = (0..10)
            .map(|_| b.next_delay(0).as_millis() as u64)
            .collect();
        assert_eq!(lows[..4], [250, 500, 1000, 2000]);
        assert_eq!(*lows.last().unwrap(), 15_000);
        b.reset();
        assert_eq!(b.next_delay(0), Duration::from_millis(250));
    }

    #[test]
    fn every_delay_is_within_its_window() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..12u32 {
            let ceiling = (100u64 << attempt.min(20)).min(5000);
            let d = b.next_delay(random_u64()).as_millis() as u64;
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "attempt {attempt}: {d} not in [{}, {ceiling}]",
                ceiling / 2
            );
        }
    }
}
