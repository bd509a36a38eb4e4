//! Pacing of a screen stream: how many credits a viewer keeps out
//! ([`CreditWindow`]), so the agent sends the newest screen as often as
//! the path and the link carry it, and never queues stale ones.

use super::MAX_FPS;
use std::collections::VecDeque;

/// Credits a viewer grants up front: one frame being decoded, one in flight.
pub const INITIAL_CREDITS: u32 = 2;

/// Most credits a viewer keeps out at once (and an agent holds): enough
/// for 60 fps of small frames over a round trip of about 230 ms, a help
/// desk on another continent.
pub const MAX_CREDITS: u32 = 16;

/// Frames over this many bytes are large (a video at full quality, a
/// redraw of the whole screen): they keep the window at two credits (one
/// on a thin link, see [`SLOW_CREDIT_US`]).
pub const LARGE_FRAME: usize = 64 * 1024;

/// How many credits a viewer keeps out.
///
/// Two ([`INITIAL_CREDITS`]) is one frame being decoded and one in flight,
/// so that the agent skips intermediate screens instead of queueing them.
/// But each credit takes a round trip to come back: with two, a 50 ms path
/// held typing to 34 fps and a 100 ms path to 18. So the window grows by
/// one credit with every frame that arrives on time, up to two plus one per
/// frame interval of the path's round trip (at most [`MAX_CREDITS`]; on
/// loopback and a LAN that is two). A large frame, or one that took more
/// than two frame intervals longer from capture to decoded than the
/// quickest of the last [`BASE_FRAMES`] (it queued somewhere: a thin
/// uplink), sets the window back to two: no credit is granted while two
/// or more are out. Credits the agent already holds are not taken back,
/// so up to the old window's frames may still follow such a change.
/// Comparing latencies with each other leaves out the clock offset's
/// error, which a link busy during the handshake makes tens of ms. A large
/// frame that took more than [`SLOW_CREDIT_US`] beyond the round trip on
/// a link under [`THIN_LINK_BPS`] (each frame queued behind the last)
/// sets the window to one, so the picture shown is one frame old, not two.
///
/// The round trip starts as the handshake's and is lowered by every frame
/// that came back sooner after the credit that let it go: no frame can
/// come sooner than a round trip after its credit, so this only corrects a
/// handshake that a busy machine or a busy link slowed. A frame cannot
/// raise it (the agent holds a credit while the screen is still, so a
/// slow typist would pass for a long path); probes can
/// ([`CreditWindow::on_probe`]): echoes on a stream of their own, at the
/// priority of input, every [`PROBE_INTERVAL_US`] while frames arrive
/// (those that came back behind the stream's own frames left out). The
/// estimate is then the quickest of the last [`PROBE_SAMPLES`], so it
/// follows a path that got longer (a VPN, a congested uplink) within a few
/// seconds, where before a session begun on a LAN kept two credits over a
/// 100 ms path: 20 fps.
#[derive(Clone, Debug)]
pub struct CreditWindow {
    interval_us: u64,
    path_rtt_us: u64,
    /// When each credit not yet spent on a frame was granted (viewer's
    /// clock), oldest first: the agent spends them in that order.
    granted_at: VecDeque<u64>,
    window: u32,
    /// Latencies of the last [`BASE_FRAMES`] frames, oldest first.
    recent: VecDeque<i64>,
    /// The last [`PROBE_SAMPLES`] probes' round trips, oldest first.
    probes: VecDeque<u64>,
}

/// How often a viewer probes the path's round trip while frames arrive
/// (an idle screen sends nothing, probes included).
pub const PROBE_INTERVAL_US: u64 = 1_000_000;

/// Probes the round-trip estimate is the quickest of: one probe held up
/// (a busy machine, a burst on the link) does not raise it.
pub const PROBE_SAMPLES: usize = 3;

/// Screen bytes that may arrive while a probe is out for it to raise the
/// estimate (about 33 ms on a 2 Mbit/s link): an echo that came back
/// behind more of the stream's own frames measured their queue, not the
/// path, and taken for the path it would widen the window that queue
/// came from (and hide the thin link that one credit at a time is for).
pub const PROBE_QUIET_BYTES: usize = 8 * 1024;

/// Frames whose quickest latency is the path's own (about two seconds at
/// 60 fps).
pub const BASE_FRAMES: usize = 128;

/// A large frame that came back this much later than a round trip after
/// its credit was granted or, if later, after it was captured (the agent
/// holds a credit while the screen is still: that wait does not count),
/// at under [`THIN_LINK_BPS`], took this long to cross the link: with two
/// credits out, each frame waits for the one before it, and the picture
/// is two frames old. Then one credit at a time (a picture about half as
/// old; the link idles a round trip a frame); back to two once a large
/// frame is back within half of this, or faster.
pub const SLOW_CREDIT_US: u64 = 250_000;

/// Links slower than this (bits a second, as a large frame crossed them)
/// are thin; on faster ones a slow large frame is the machines' work
/// (4K video on loopback), which two credits let overlap.
pub const THIN_LINK_BPS: u64 = 20_000_000;

impl CreditWindow {
    /// A window for frames at up to `max_fps` (as the agent clamps it)
    /// over a path of `path_rtt_us` round trip, with [`INITIAL_CREDITS`]
    /// granted in a `Start` sent at `start_us`.
    #[must_use]
    pub fn new(max_fps: u32, path_rtt_us: u64, start_us: u64) -> Self {
        Self {
            interval_us: 1_000_000 / u64::from(max_fps.clamp(1, MAX_FPS)),
            path_rtt_us,
            granted_at: std::iter::repeat_n(start_us, INITIAL_CREDITS as usize).collect(),
            window: INITIAL_CREDITS,
            recent: VecDeque::with_capacity(BASE_FRAMES + 1),
            probes: VecDeque::with_capacity(PROBE_SAMPLES + 1),
        }
    }

    /// A probe of the path came back `rtt_us` after it was sent, while
    /// `screen_bytes` of frames arrived: the estimate becomes the quickest
    /// of the last [`PROBE_SAMPLES`], up or down, and the window no larger
    /// than the new ceiling (credits out stay out). A probe that came back
    /// behind more than [`PROBE_QUIET_BYTES`] and slower than the estimate
    /// is left out: it measured the stream's own queue. A path longer by
    /// more than two frame intervals also forgets the latencies of the
    /// shorter one: against them every frame would pass for queued and
    /// hold the window at two until they aged out ([`BASE_FRAMES`] frames
    /// at the shorter path's 17 fps: 7 s).
    pub fn on_probe(&mut self, rtt_us: u64, screen_bytes: usize) {
        if screen_bytes > PROBE_QUIET_BYTES && rtt_us > self.path_rtt_us {
            return;
        }
        self.probes.push_back(rtt_us);
        if self.probes.len() > PROBE_SAMPLES {
            self.probes.pop_front();
        }
        let before = self.path_rtt_us;
        self.path_rtt_us = self.probes.iter().copied().min().unwrap_or(rtt_us);
        if self.path_rtt_us > before.saturating_add(2 * self.interval_us) {
            self.recent.clear();
        }
        self.window = self.window.min(self.ceiling());
    }

    /// The path's round trip as now estimated, in microseconds.
    #[must_use]
    pub fn path_rtt_us(&self) -> u64 {
        self.path_rtt_us
    }

    /// The most credits the path's round trip calls for.
    #[must_use]
    pub fn ceiling(&self) -> u32 {
        let extra = self.path_rtt_us / self.interval_us.max(1);
        u32::try_from(extra)
            .unwrap_or(u32::MAX)
            .saturating_add(INITIAL_CREDITS)
            .min(MAX_CREDITS)
    }

    /// Credits the viewer keeps out now.
    #[must_use]
    pub fn window(&self) -> u32 {
        self.window
    }

    /// A frame of `bytes` was decoded at `now_us`, `latency_us` after its
    /// capture (any constant clock offset may be left in: only differences
    /// between frames count; `age_us` is the same with the offset estimate
    /// applied): the credits to grant now (none while at least the window
    /// are out).
    pub fn on_frame(&mut self, bytes: usize, latency_us: i64, age_us: u64, now_us: u64) -> u32 {
        let credit_rt = self
            .granted_at
            .pop_front()
            .map(|g| now_us.saturating_sub(g));
        if let Some(rt) = credit_rt {
            self.path_rtt_us = self.path_rtt_us.min(rt);
        }
        self.recent.push_back(latency_us);
        if self.recent.len() > BASE_FRAMES {
            self.recent.pop_front();
        }
        let base = self.recent.iter().copied().min().unwrap_or(latency_us);
        let queued = latency_us.saturating_sub(base)
            > i64::try_from(2 * self.interval_us).unwrap_or(i64::MAX);
        let slow_after = if self.window == 1 {
            SLOW_CREDIT_US / 2
        } else {
            SLOW_CREDIT_US
        };
        // From the credit or the capture, whichever came later.
        let took = credit_rt.map(|rt| rt.min(age_us));
        let bits = (bytes as u64).saturating_mul(8_000_000);
        let slow_link = bytes > LARGE_FRAME
            && took.is_some_and(|t| {
                t > self.path_rtt_us.saturating_add(slow_after)
                    && bits < THIN_LINK_BPS.saturating_mul(t)
            });
        self.window = if slow_link {
            1
        } else if bytes > LARGE_FRAME || queued {
            INITIAL_CREDITS
        } else {
            (self.window + 1).min(self.ceiling())
        };
        let grant = self.window.saturating_sub(self.outstanding());
        self.granted_at
            .extend(std::iter::repeat_n(now_us, grant as usize));
        grant
    }

    /// Credits granted whose frames have not arrived.
    #[must_use]
    pub fn outstanding(&self) -> u32 {
        u32::try_from(self.granted_at.len()).unwrap_or(u32::MAX)
    }

    /// When the credit the next frame spends was granted (viewer's clock).
    #[must_use]
    pub fn next_credit_granted_us(&self) -> Option<u64> {
        self.granted_at.front().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A viewer's window with a clock: every frame is decoded 200 ms after
    /// the last, later than any round trip here, so unless a test says so
    /// the round trip stays the handshake's.
    struct Viewer {
        w: CreditWindow,
        now: u64,
        /// Time from one decoded frame to the next.
        step_us: u64,
    }

    impl Viewer {
        fn new(max_fps: u32, path_rtt_us: u64) -> Self {
            Self {
                w: CreditWindow::new(max_fps, path_rtt_us, 0),
                now: 0,
                step_us: 200_000,
            }
        }

        /// As [`Viewer::new`], frames `step_us` apart.
        fn every(max_fps: u32, path_rtt_us: u64, step_us: u64) -> Self {
            Self {
                step_us,
                ..Self::new(max_fps, path_rtt_us)
            }
        }

        fn frame(&mut self, bytes: usize, latency_us: i64) -> u32 {
            self.now += self.step_us;
            let age = u64::try_from(latency_us).unwrap_or(0);
            self.w.on_frame(bytes, latency_us, age, self.now)
        }

        /// Frames of `sizes` bytes, each 30 ms from capture to decoded;
        /// returns the grants.
        fn feed(&mut self, sizes: &[usize]) -> Vec<u32> {
            sizes.iter().map(|&b| self.frame(b, 30_000)).collect()
        }
    }

    impl std::ops::Deref for Viewer {
        type Target = CreditWindow;
        fn deref(&self) -> &CreditWindow {
            &self.w
        }
    }

    #[test]
    fn on_loopback_one_credit_comes_back_per_frame() {
        let mut w = Viewer::new(60, 400);
        assert_eq!(w.feed(&[60; 20]), vec![1; 20]);
        assert_eq!(w.outstanding(), INITIAL_CREDITS);
        // Large frames (redraws after the screen held still 200 ms: the
        // agent held its credits meanwhile), decoded 30 ms after capture.
        let mut w = Viewer::new(60, 400);
        assert_eq!(w.feed(&[3_500_000; 5]), vec![1; 5]);
        // 4K video on slow machines: 20 MB frames 300 ms old, 160 ms
        // apart. The link carries 530 Mbit/s, so two credits stay out to
        // overlap the two machines' work.
        let mut w = Viewer::every(60, 400, 160_000);
        let grants: Vec<u32> = (0..5).map(|_| w.frame(20_000_000, 300_000)).collect();
        assert_eq!(grants, vec![1; 5]);
        assert_eq!(w.window(), INITIAL_CREDITS);
        // A viewer asking for 1000 fps gets the agent's 120: a 7 ms round
        // trip is still under one frame interval.
        let mut w = Viewer::new(1000, 7_000);
        assert_eq!(w.feed(&[60; 5]), vec![1; 5]);
    }

    #[test]
    fn frames_on_time_over_a_long_path_grow_the_window_to_its_round_trip() {
        // 50 ms at 60 fps: three frame intervals, so up to 2 + 3 credits,
        // one more with each frame on time.
        let mut w = Viewer::new(60, 50_000);
        assert_eq!(w.ceiling(), 5);
        assert_eq!(w.feed(&[60; 6]), vec![2, 2, 2, 1, 1, 1]);
        assert_eq!(w.outstanding(), 5);
        // 100 ms: 2 + 6; 300 ms would be 2 + 18, capped.
        let mut w = Viewer::new(60, 100_000);
        w.feed(&[LARGE_FRAME; 10]);
        assert_eq!(w.outstanding(), 8);
        assert_eq!(Viewer::new(60, 300_000).ceiling(), MAX_CREDITS);
        // At 10 fps a 100 ms path is one frame interval: 3 credits.
        let mut w = Viewer::new(10, 100_000);
        w.feed(&[60; 10]);
        assert_eq!(w.outstanding(), 3);
    }

    #[test]
    fn a_slow_handshake_is_corrected_by_the_first_quick_frame() {
        // The handshake took 200 ms (a busy machine); the frames come back
        // 5 ms after the credits that let them go: a LAN after all.
        let mut w = CreditWindow::new(60, 200_000, 0);
        assert_eq!(w.ceiling(), 14);
        let (mut now, mut grants) = (5_000, Vec::new());
        for _ in 0..10 {
            grants.push(w.on_frame(60, 4_000, 4_000, now));
            now += 5_000;
        }
        assert_eq!(w.path_rtt_us(), 5_000);
        assert_eq!(grants, vec![1; 10]);
        assert_eq!(w.outstanding(), INITIAL_CREDITS);
        // A frame that took longer does not raise it again.
        w.on_frame(60, 4_000, 4_000, now + 900_000);
        assert_eq!(w.path_rtt_us(), 5_000);
    }

    #[test]
    fn probes_follow_a_path_that_got_longer_and_the_window_with_it() {
        // A session begun on a LAN: two credits.
        let mut w = Viewer::every(60, 1_000, 16_000);
        let typed = |w: &mut Viewer, n: usize, latency: i64| -> Vec<u32> {
            (0..n).map(|_| w.frame(60, latency)).collect()
        };
        typed(&mut w, 10, 1_000);
        assert_eq!((w.ceiling(), w.outstanding()), (2, 2));
        // The path becomes 100 ms (a VPN). Frames alone never raise the
        // estimate: two credits a round trip, 20 fps.
        w.step_us = 100_000;
        assert_eq!(typed(&mut w, 10, 51_000), vec![1; 10]);
        assert_eq!(w.path_rtt_us(), 1_000);
        // One probe held up raises it (the quickest of those kept), and
        // with the next frames the window grows to the round trip's
        // ceiling: 2 + 6 credits, though they come 50 ms later after
        // capture than the frames of the short path did (which would have
        // passed for queued: that base is forgotten).
        w.w.on_probe(100_500, 400);
        assert_eq!(w.path_rtt_us(), 100_500);
        assert_eq!(w.ceiling(), 8);
        assert_eq!(typed(&mut w, 6, 51_000), vec![2, 2, 2, 2, 2, 2]);
        typed(&mut w, 4, 51_000);
        assert_eq!(w.outstanding(), 8);
        // A quicker probe lowers it at once; the window shrinks to the new
        // ceiling, granting nothing while the credits out exceed it.
        w.w.on_probe(40_000, 0);
        w.w.on_probe(41_000, 0);
        assert_eq!(w.path_rtt_us(), 40_000);
        assert_eq!((w.ceiling(), w.window()), (4, 4));
        assert_eq!(typed(&mut w, 5, 51_000), vec![0, 0, 0, 0, 1]);
        // The quickest of the last three: one slow probe changes nothing,
        // three in a row do.
        w.w.on_probe(300_000, 0);
        assert_eq!(w.path_rtt_us(), 40_000);
        w.w.on_probe(300_000, 0);
        w.w.on_probe(300_000, 0);
        assert_eq!(w.path_rtt_us(), 300_000);
        assert_eq!(w.ceiling(), MAX_CREDITS);
    }

    #[test]
    fn a_probe_behind_the_streams_own_frames_does_not_raise_the_estimate() {
        // Smooth-motion video over a thin uplink: an echo behind a 180 KB
        // frame took 0.75 s. That is the frame's queue, not the path: no
        // wider window, and the thin link still goes one credit at a time.
        let mut w = Viewer::every(60, 50_000, 700_000);
        for _ in 0..3 {
            w.w.on_probe(750_000, 180_000);
        }
        assert_eq!(w.path_rtt_us(), 50_000);
        let grants: Vec<u32> = (0..2).map(|_| w.frame(180_000, 1_400_000)).collect();
        assert_eq!(grants, vec![0, 1]);
        assert_eq!(w.window(), 1);
        // One that slipped through between frames measures the path, and
        // a quick one counts however busy the link was.
        w.w.on_probe(52_000, 0);
        assert_eq!(w.path_rtt_us(), 52_000);
        w.w.on_probe(45_000, 180_000);
        assert_eq!(w.path_rtt_us(), 45_000);
    }

    #[test]
    fn a_large_frame_shrinks_the_window_until_frames_are_small_again() {
        let mut w = Viewer::new(60, 50_000);
        w.feed(&[100; 4]);
        assert_eq!(w.outstanding(), 5);
        // A video starts: credits are withheld until two are out, then one
        // comes back per frame.
        let grants = w.feed(&[LARGE_FRAME + 1; 6]);
        assert_eq!(grants, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(w.outstanding(), INITIAL_CREDITS);
        // Typing again: the window grows back.
        assert_eq!(w.feed(&[100; 4]), vec![2, 2, 2, 1]);
    }

    #[test]
    fn on_a_thin_link_large_frames_go_one_at_a_time() {
        // Smooth-motion video over 2 Mbit/s: 180 KB frames, 0.7 s each on
        // the link. With two credits out each frame waits for the one
        // before it: decoded 1.4 s after capture. The first already took
        // 0.7 s after the Start's credits: one at a time from then on.
        let mut w = Viewer::every(60, 50_000, 700_000);
        let grants: Vec<u32> = (0..2).map(|_| w.frame(180_000, 1_400_000)).collect();
        assert_eq!(grants, vec![0, 1]);
        assert_eq!(w.window(), 1);
        assert_eq!(w.outstanding(), 1);
        // One credit: each frame 0.75 s after its credit, still slow.
        w.step_us = 750_000;
        let grants: Vec<u32> = (0..4).map(|_| w.frame(180_000, 740_000)).collect();
        assert_eq!(grants, vec![1; 4]);
        assert_eq!(w.window(), 1);
        // 0.2 s (a 7 Mbit/s link): beyond the round trip plus half the
        // margin, so one still (two would make it 0.4 s, slow again: no
        // flapping).
        w.step_us = 200_000;
        let grants: Vec<u32> = (0..2).map(|_| w.frame(180_000, 190_000)).collect();
        assert_eq!(grants, vec![1; 2]);
        assert_eq!(w.window(), 1);
        // The link got fast (or the frames small): two, then more.
        w.step_us = 100_000;
        assert_eq!(w.frame(180_000, 90_000), 2);
        assert_eq!(w.window(), INITIAL_CREDITS);
        assert_eq!(w.feed(&[100; 2]), vec![2, 2]);
        assert_eq!(w.window(), 4);
    }

    #[test]
    fn frames_that_arrive_late_shrink_the_window() {
        // 50 ms path at 60 fps, frames 30 ms from capture to decoded: more
        // than two intervals (33 ms) later than that is queueing (a thin
        // uplink), not the path.
        let mut w = Viewer::new(60, 50_000);
        w.feed(&[100; 4]);
        assert_eq!(w.outstanding(), 5);
        let late: Vec<u32> = (0..4).map(|_| w.frame(100, 64_000)).collect();
        assert_eq!(late, vec![0, 0, 0, 1]);
        assert_eq!(w.outstanding(), INITIAL_CREDITS);
        // Just in time counts as on time, and the window grows back.
        assert_eq!(w.frame(100, 63_000), 2);
        assert_eq!(w.outstanding(), 3);
    }

    #[test]
    fn lateness_does_not_depend_on_the_clock_offset() {
        // An offset estimate 80 ms off makes every latency negative; a
        // frame 40 ms later than the others is still late.
        let mut w = Viewer::new(60, 50_000);
        let on_time: Vec<u32> = (0..4).map(|_| w.frame(100, -80_000)).collect();
        assert_eq!(on_time, vec![2, 2, 2, 1]);
        assert_eq!(w.frame(100, -40_000), 0);
        assert_eq!(w.window(), INITIAL_CREDITS);
        // The quickest latency is forgotten after BASE_FRAMES frames: a
        // path that got longer is the new normal.
        for _ in 0..BASE_FRAMES + 3 {
            w.frame(100, -40_000);
        }
        assert_eq!(w.window(), 5);
    }
}
