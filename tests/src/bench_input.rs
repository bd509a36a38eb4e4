//! `lifeline-bench input`: how fast the technician's input reaches the
//! user's machine, and how fast the user's screen shows it.
//!
//! A real Xvfb with an xterm running `cat`, the in-process relay, an agent
//! injecting with enigo (XTEST) and capturing with MIT-SHM, and the
//! console's own input and screen streams:
//! - input round trip: console → relay → agent injects → acknowledgement
//!   back, per event (an upper bound of input-to-injection);
//! - keystroke to pixel: a key is sent, the xterm echoes it, the agent
//!   captures and encodes the change, the console decodes it.

use crate::{
    bench_screen::{
        ours::open_stream,
        procs::{Guard, Xvfb, which},
    },
    ms,
    stage::Stage,
};
use anyhow::{Context, bail};
use lifeline::{
    input_cmd::InputStream,
    viewer::stream::{ScreenStream, ViewEvent},
};
use lifeline_proto::{
    Permission,
    input::{Action, InputEvent, MouseButton},
    screen::measure::percentile,
};
use serde::Serialize;
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// The figures.
#[derive(Debug, Serialize)]
pub struct InputReport {
    pub events: usize,
    pub input_rtt_ms_p50: f64,
    pub input_rtt_ms_p99: f64,
    pub keystrokes: usize,
    pub key_to_pixel_ms_p50: f64,
    pub key_to_pixel_ms_p99: f64,
    pub key_to_pixel_missed: usize,
}

/// Forwards the decode time of every frame of `stream`, so the measuring
/// loop never cancels a half-read frame.
fn watch_frames(mut stream: ScreenStream) -> mpsc::UnboundedReceiver<Instant> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match stream.next().await {
                Ok(ViewEvent::Frame { .. }) => {
                    if tx.send(Instant::now()).is_err() {
                        return;
                    }
                }
                Ok(ViewEvent::Cursor(_)) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// Enrolls and starts the real `lifeline-agent` (built next to this
/// binary) on `display`, unattended: injection needs the agent's own
/// DISPLAY, as on a user's machine. Returns its machine id.
async fn spawn_agent_process(stage: &mut Stage, display: &str) -> anyhow::Result<(String, Guard)> {
    let bin = std::env::current_exe()?.with_file_name("lifeline-agent");
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p lifeline-agent)",
            bin.display()
        );
    }
    let token = stage.token(Some(1)).await?;
    let dir = stage.dir.path().join("agent-input");
    let out = Command::new(&bin)
        .args([
            "enroll",
            "--relay",
            &stage.addr.to_string(),
            "--fingerprint",
        ])
        .arg(stage.fingerprint.to_string())
        .env("LIFELINE_AGENT_DIR", &dir)
        .env("LIFELINE_ENROLL_TOKEN", token.expose())
        .output()?;
    if !out.status.success() {
        bail!("enroll: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(&bin)
        .arg("id")
        .env("LIFELINE_AGENT_DIR", &dir)
        .output()?;
    let machine = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let guard = Guard::spawn(
        "lifeline-agent",
        Command::new(&bin)
            .args(["run", "--unattended", "--inventory-root", "/nonexistent"])
            .env("LIFELINE_AGENT_DIR", &dir)
            .env("DISPLAY", display)
            .env("LIFELINE_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    stage.wait_online(&machine, Duration::from_secs(10)).await?;
    Ok((machine, guard))
}

/// Runs the benchmark: `events` pointer moves for the round trip, then
/// `keystrokes` keys for keystroke-to-pixel.
///
/// # Errors
/// Setup failures (no Xvfb or xterm), refusals.
pub async fn run(events: usize, keystrokes: usize) -> anyhow::Result<InputReport> {
    if which("xterm").is_none() {
        bail!("xterm not found: install it with `apt-get install -y xterm`");
    }
    let x = Xvfb::start(1280, 800)?;
    let _term = Guard::spawn(
        "xterm",
        Command::new("xterm")
            .args(["-geometry", "100x30+0+0", "-e", "cat"])
            .env("DISPLAY", &x.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut stage = Stage::start().await?;
    let (machine, _agent) = spawn_agent_process(&mut stage, &x.display).await?;
    let mut input = InputStream::open(&mut stage.admin, &machine, Permission::Control)
        .await
        .context("open the input stream")?;

    // Round trips: pointer moves inside the xterm (focus follows the
    // pointer without a window manager).
    input.send(InputEvent::Move { x: 300, y: 200 }).await?;
    input
        .send(InputEvent::Button {
            button: MouseButton::Left,
            action: Action::Click,
        })
        .await?;
    let mut rtts = Vec::with_capacity(events);
    let bench_start = Instant::now();
    for i in 0..events {
        if bench_start.elapsed() > Duration::from_secs(120) {
            break;
        }
        let (x, y) = (200 + (i % 200) as i32, 150 + (i % 100) as i32);
        rtts.push(input.send(InputEvent::Move { x, y }).await?);
    }
    rtts.sort();

    // Keystroke to pixel.
    let stream = open_stream(&mut stage, &machine, 60, false).await?;
    let mut frames = watch_frames(stream);
    let mut delays = Vec::with_capacity(keystrokes);
    let mut missed = 0;
    for i in 0..keystrokes {
        if bench_start.elapsed() > Duration::from_secs(240) {
            break;
        }
        // Let the last change settle, and forget its frames.
        tokio::time::sleep(Duration::from_millis(60)).await;
        while frames.try_recv().is_ok() {}
        let key = if i % 60 == 59 {
            InputEvent::Key {
                key: "return".into(),
                action: Action::Click,
            }
        } else {
            InputEvent::Text(char::from(b'a' + (i % 26) as u8).to_string())
        };
        let sent = Instant::now();
        input.send(key).await?;
        match tokio::time::timeout(Duration::from_secs(2), frames.recv()).await {
            Ok(Some(at)) => delays.push(at.saturating_duration_since(sent)),
            Ok(None) => bail!("the screen stream ended"),
            Err(_) => missed += 1,
        }
    }
    delays.sort();
    Ok(InputReport {
        events: rtts.len(),
        input_rtt_ms_p50: ms(percentile(&rtts, 50)),
        input_rtt_ms_p99: ms(percentile(&rtts, 99)),
        keystrokes: delays.len(),
        key_to_pixel_ms_p50: ms(percentile(&delays, 50)),
        key_to_pixel_ms_p99: ms(percentile(&delays, 99)),
        key_to_pixel_missed: missed,
    })
}

/// The report as Markdown.
#[must_use]
pub fn markdown(r: &InputReport) -> String {
    format!(
        "| measure | p50 | p99 | target |\n|---|---:|---:|---|\n\
         | input round trip, console → relay → agent injects (XTEST) → ack ({} events) | {:.2} ms | {:.2} ms | p99 < 5 ms one way |\n\
         | keystroke to pixel: key sent → xterm echo captured, encoded, decoded in the console ({} keys, {} without a frame in 2 s) | {:.1} ms | {:.1} ms | |\n",
        r.events,
        r.input_rtt_ms_p50,
        r.input_rtt_ms_p99,
        r.keystrokes,
        r.key_to_pixel_missed,
        r.key_to_pixel_ms_p50,
        r.key_to_pixel_ms_p99,
    )
}
