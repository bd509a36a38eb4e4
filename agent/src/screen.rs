//! Serving a screen stream: capture → encode → pace → send.
//!
//! Capturing and encoding are blocking work, so they run on a thread of
//! their own that owns the capture source and the encoder. The async side
//! only moves messages between that thread and the QUIC stream.

use crate::capture::{Capture, CaptureError};
use crate::session::SessionState;
use lifeline_net::{
    e2e::{SecureRecv, SecureSend},
    unix_micros,
};
use lifeline_proto::{
    screen::Encoder,
    view::{
        AgentToViewer, CaptureTicks, MAX_CREDITS, MAX_FPS, MAX_SCREEN_FRAME_LEN, ViewerToAgent,
    },
};
use std::{
    sync::mpsc as std_mpsc,
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

/// Largest viewer message (they are all tiny).
const MAX_VIEWER_MSG: usize = 4096;
/// Where the source reports what was drawn (X11 DAMAGE), only that is
/// read and compared; the whole screen still is this often at first, so
/// that a change the report misses (a resolution change, a server that
/// draws without reporting) shows within this time, [`READ_ANYWAY_MAX`]
/// once the reads found nothing for a while.
const READ_ANYWAY: Duration = Duration::from_millis(500);
/// Each such read that finds nothing unreported doubles the time to the
/// next, up to this (an idle screen: two reads of 8 MB a second were most
/// of what it cost the user's machine); one that finds something (a new
/// size too) goes back to [`READ_ANYWAY`]. Whole reads made for what was
/// reported drawn leave the time as it is.
const READ_ANYWAY_MAX: Duration = Duration::from_secs(2);
/// Reads made only because the time above passed that find a change in a
/// row (nothing reported drawn, same size) before the source's reports
/// are no longer trusted for the stream, which then reads every frame
/// whole: some GL and direct-scanout drivers draw without reporting. More
/// than one, as a drawing can land between the question and the read.
const MISSED_REPORTS: u32 = 3;
/// Makes a capture source for a new screen stream.
pub type CaptureFactory =
    std::sync::Arc<dyn Fn() -> Result<Box<dyn Capture>, CaptureError> + Send + Sync>;

enum Command {
    Credit(u32),
    KeyFrame,
    Select(Option<u32>),
    Motion { coarse: bool },
}

/// Serves one screen stream until the viewer goes away or capture fails.
pub async fn serve(
    mut send: SecureSend,
    mut recv: SecureRecv,
    factory: CaptureFactory,
    mut state: watch::Receiver<SessionState>,
    journal: crate::session::Journal,
) {
    let opened = Instant::now();
    let start = match recv.read_msg::<ViewerToAgent>(MAX_VIEWER_MSG).await {
        Ok(Some(ViewerToAgent::Start {
            monitor,
            max_fps,
            credits,
            viewer_time_us,
        })) => (monitor, max_fps, credits, viewer_time_us),
        Ok(_) => {
            warn!("screen stream did not start with Start");
            send.reset(1);
            return;
        }
        Err(e) => {
            warn!("screen stream: {e}");
            return;
        }
    };
    // For the viewer's round-trip estimate: the time opening the capture
    // takes is left out of it.
    let agent_start_us = unix_micros();
    let (monitor, max_fps, credits, viewer_time_us) = start;
    let (out_tx, mut out_rx) = mpsc::channel::<AgentToViewer>(4);
    let (cmd_tx, cmd_rx) = std_mpsc::channel::<Command>();
    let interval = Duration::from_secs(1) / max_fps.clamp(1, MAX_FPS);
    std::thread::Builder::new()
        .name("screen".into())
        .spawn(move || {
            capture_loop(
                &factory,
                monitor,
                credits,
                (viewer_time_us, agent_start_us),
                interval,
                &cmd_rx,
                &out_tx,
            );
        })
        .ok();
    let writer = async {
        while let Some(msg) = out_rx.recv().await {
            let last = matches!(msg, AgentToViewer::Error { .. });
            if matches!(msg, AgentToViewer::Frame { .. }) {
                crate::session::record(&journal, |r| r.frames += 1);
            }
            if send.write_msg(&msg, MAX_SCREEN_FRAME_LEN).await.is_err() {
                break;
            }
            if last {
                send.finish();
                break;
            }
        }
    };
    let reader = async {
        loop {
            let cmd = match recv.read_msg::<ViewerToAgent>(MAX_VIEWER_MSG).await {
                Ok(Some(ViewerToAgent::Credit { credits, .. })) => Command::Credit(credits),
                Ok(Some(ViewerToAgent::KeyFrame)) => Command::KeyFrame,
                Ok(Some(ViewerToAgent::SelectMonitor(m))) => Command::Select(m),
                Ok(Some(ViewerToAgent::Motion { coarse })) => Command::Motion { coarse },
                Ok(Some(ViewerToAgent::Start { .. })) => {
                    warn!("second Start on a screen stream");
                    break;
                }
                Ok(None) => break,
                Err(e) => {
                    debug!("screen stream reader: {e}");
                    break;
                }
            };
            if cmd_tx.send(cmd).is_err() {
                break;
            }
        }
    };
    let ended = tokio::select! {
        () = writer => false,
        () = reader => false,
        () = crate::session::ended(&mut state) => true,
    };
    if ended {
        // Frames still queued must not reach the technician any more.
        send.reset(0);
    }
    // Dropping `cmd_tx` (with `reader`) stops the capture thread.
    let open_ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
    crate::session::record(&journal, |r| {
        r.screen_ms = r.screen_ms.saturating_add(open_ms)
    });
    info!("screen stream ended");
}

#[allow(clippy::too_many_arguments)]
fn capture_loop(
    factory: &CaptureFactory,
    monitor: Option<u32>,
    mut credits: u32,
    (viewer_time_us, agent_start_us): (u64, u64),
    interval: Duration,
    commands: &std_mpsc::Receiver<Command>,
    out: &mpsc::Sender<AgentToViewer>,
) {
    let fail = |e: CaptureError| {
        warn!("screen capture: {e}");
        let _ = out.blocking_send(AgentToViewer::Error {
            message: e.to_string(),
        });
    };
    let mut capture = match factory() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = capture.select(monitor) {
        return fail(e);
    }
    let monitors = match capture.monitors() {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    // Frames carry their capture time in ticks counted from here.
    let ready_at = unix_micros();
    let mut ticks = CaptureTicks::new(ready_at);
    if out
        .blocking_send(AgentToViewer::Ready {
            monitors,
            selected: monitor,
            viewer_time_us,
            agent_start_us,
            agent_time_us: ready_at,
        })
        .is_err()
    {
        return;
    }
    let mut encoder = Encoder::new();
    let mut last_cursor: Option<(i32, i32)> = None;
    let mut next = Instant::now();
    let mut last_whole = Instant::now();
    let mut read_anyway = READ_ANYWAY;
    let mut missed = 0u32;
    // The screen as last read, updated in place where it was drawn on.
    let mut screen = None;
    loop {
        // Apply what the viewer said; block only when out of credit.
        loop {
            let cmd = if credits == 0 {
                match commands.recv_timeout(Duration::from_millis(500)) {
                    Ok(c) => c,
                    Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match commands.try_recv() {
                    Ok(c) => c,
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            };
            match cmd {
                Command::Credit(n) => credits = credits.saturating_add(n).min(MAX_CREDITS),
                Command::KeyFrame => encoder.request_keyframe(),
                Command::Select(m) => {
                    if let Err(e) = capture.select(m) {
                        warn!("monitor selection: {e}");
                    }
                    encoder.request_keyframe();
                }
                Command::Motion { coarse } => encoder.set_coarse_motion(coarse),
            }
        }
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next = Instant::now() + interval;
        if let Some(cursor) = capture.cursor() {
            let moved = last_cursor != Some((cursor.x, cursor.y));
            if moved || cursor.shape.is_some() {
                last_cursor = Some((cursor.x, cursor.y));
                if out.blocking_send(AgentToViewer::Cursor(cursor)).is_err() {
                    return;
                }
            }
        }
        // Nothing drawn: the screen is not read (an idle screen costs the
        // user's machine nearly nothing); something drawn: only that is
        // read and compared, unless the whole screen is due.
        let wanted = encoder.wants_frame();
        let distrust = missed >= MISSED_REPORTS;
        let whole = wanted || distrust || last_whole.elapsed() >= read_anyway;
        // Asked every time, so that the source's reports never pile up.
        let drawn = capture.may_have_changed() || distrust;
        if !whole && !drawn {
            continue;
        }
        let unreported = !wanted && !drawn;
        let captured_at = unix_micros();
        let data = if wanted {
            // A key frame, or a video in smooth motion whose coarse tiles
            // count still frames: the screen is read whole and handed to
            // the encoder as its reference, with no copy kept here.
            last_whole = Instant::now();
            screen = None;
            match capture.capture() {
                Ok(frame) => encoder.encode_changed(frame),
                Err(e) => return fail(e),
            }
        } else {
            let hint = match capture.capture_into(&mut screen, whole) {
                Ok(h) => h,
                // The screen may have shrunk under a read of its parts:
                // once more, whole.
                Err(_) => {
                    screen = None;
                    match capture.capture_into(&mut screen, true) {
                        Ok(h) => h,
                        Err(e) => return fail(e),
                    }
                }
            };
            if hint.is_none() {
                last_whole = Instant::now();
            }
            screen
                .as_ref()
                .and_then(|frame| encoder.encode_hinted(frame, hint.as_deref()))
        };
        // Unchanged screen: nothing to send, no credit spent (coarse tiles
        // of a video that stopped are made exact once they held still).
        if unreported {
            // Consecutive: a change found by a read nothing asked for.
            let changed = data.is_some() && !encoder.stats().key;
            missed = if changed { missed + 1 } else { 0 };
            read_anyway = if data.is_some() {
                READ_ANYWAY
            } else {
                (read_anyway * 2).min(READ_ANYWAY_MAX)
            };
            if missed == MISSED_REPORTS {
                warn!("the display draws without reporting it: reading every frame");
            }
        }
        let Some(data) = data else {
            continue;
        };
        credits -= 1;
        let msg = AgentToViewer::Frame {
            capture_step: ticks.step(captured_at),
            data,
        };
        if out.blocking_send(msg).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{select_single, single_monitor};
    use lifeline_proto::screen::Frame;
    use lifeline_proto::view::{MAX_CREDITS, MonitorInfo};
    use std::sync::{Arc, Mutex};

    /// A display that never reports drawing (as some GL drivers do with
    /// DAMAGE, or as an idle screen rightly does); `draws(n)` says whether
    /// its read number `n` (0: the key frame's) finds something new. Keeps
    /// when each read was made.
    struct Unreported {
        reads: Arc<Mutex<Vec<Instant>>>,
        draws: fn(usize) -> bool,
        colour: u32,
    }

    impl Capture for Unreported {
        fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
            Ok(single_monitor("unreported", 64, 64))
        }
        fn select(&mut self, monitor: Option<u32>) -> Result<(), CaptureError> {
            select_single(monitor)
        }
        fn capture(&mut self) -> Result<Frame, CaptureError> {
            let mut reads = self.reads.lock().unwrap();
            if (self.draws)(reads.len()) {
                self.colour += 1;
            }
            reads.push(Instant::now());
            Frame::filled(64, 64, self.colour).map_err(|e| CaptureError::X11(e.to_string()))
        }
        fn may_have_changed(&mut self) -> bool {
            false
        }
    }

    /// Runs the capture loop on an [`Unreported`] display, a credit given
    /// back for every frame, until `enough` says so of the frames and the
    /// reads or `limit` passed; answers the frames sent and when each read
    /// was made.
    fn watch_unreported(
        draws: fn(usize) -> bool,
        limit: Duration,
        enough: impl Fn(usize, &[Instant]) -> bool,
    ) -> (usize, Vec<Instant>) {
        let reads = Arc::new(Mutex::new(Vec::new()));
        let kept = reads.clone();
        let factory: CaptureFactory = Arc::new(move || {
            let reads = kept.clone();
            Ok(Box::new(Unreported {
                reads,
                draws,
                colour: 0,
            }) as Box<dyn Capture>)
        });
        let (cmd_tx, cmd_rx) = std_mpsc::channel();
        let (out_tx, mut out_rx) = mpsc::channel(64);
        let every = Duration::from_millis(5);
        let worker = std::thread::spawn(move || {
            capture_loop(&factory, None, MAX_CREDITS, (0, 0), every, &cmd_rx, &out_tx);
        });
        let mut frames = 0;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline && !enough(frames, &reads.lock().unwrap()) {
            match out_rx.try_recv() {
                Ok(AgentToViewer::Frame { .. }) => {
                    frames += 1;
                    cmd_tx.send(Command::Credit(1)).unwrap();
                }
                Ok(AgentToViewer::Error { message }) => panic!("{message}"),
                Ok(_) => {}
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(mpsc::error::TryRecvError::Disconnected) => panic!("the capture loop ended"),
            }
        }
        drop(cmd_tx);
        while let Ok(msg) = out_rx.try_recv() {
            frames += usize::from(matches!(msg, AgentToViewer::Frame { .. }));
        }
        drop(out_rx);
        worker.join().unwrap();
        let reads = reads.lock().unwrap().clone();
        (frames, reads)
    }

    #[test]
    fn a_display_that_draws_without_reporting_is_read_every_frame() {
        // Trusting the reports, it would read twice a second: 40 frames
        // would take 20 s. Three reads that found a change nobody reported
        // make it read every frame.
        let (frames, _) =
            watch_unreported(|_| true, Duration::from_secs(10), |frames, _| frames >= 40);
        assert!(
            frames >= 40,
            "{frames} frames in 10 s: the unreported drawing was not noticed"
        );
    }

    #[test]
    fn a_still_screen_whose_reports_hold_true_is_read_ever_more_rarely() {
        // The key frame, then nothing: only the reads made because time
        // passed, at 0.5 s, 1.5 s and 3.5 s (every 0.5 s: 7 by 3.8 s).
        let (frames, reads) =
            watch_unreported(|_| false, Duration::from_millis(3800), |_, _| false);
        assert_eq!(frames, 1, "a still screen sends its key frame only");
        let after_key = reads.len().saturating_sub(1);
        assert!(
            (1..=3).contains(&after_key),
            "{after_key} reads of a still screen in 3.8 s"
        );
    }

    #[test]
    fn a_read_that_finds_an_unreported_change_brings_the_next_one_sooner() {
        // Reads at 0 (key), 0.5 and 1.5 s find nothing; the one at 3.5 s
        // finds a change nobody reported: the next is 0.5 s after it, not 2.
        let (frames, reads) =
            watch_unreported(|n| n == 3, Duration::from_secs(7), |_, r| r.len() >= 5);
        assert_eq!(frames, 2, "the key frame and the change");
        assert!(reads.len() >= 5, "{} reads in 7 s", reads.len());
        let gap = reads[4] - reads[3];
        assert!(
            gap < Duration::from_millis(1200),
            "next read {gap:?} after the change"
        );
        assert!(
            reads[3] - reads[2] > Duration::from_millis(1500),
            "the interval had grown"
        );
    }
}
