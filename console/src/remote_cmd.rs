//! The commands that open a session with a machine: `connect`, `chat`,
//! `type`, `click`, `key` and `ping`.

use crate::{
    cli::{Command, connect},
    client::ClientError,
    ping,
    viewer::{
        headless,
        stream::{ScreenStream, ViewError},
    },
};
use anyhow::{Context, bail};
use lifeline_proto::{
    ConsoleReply, ConsoleRequest, Permission,
    input::{Action, InputEvent, MouseButton},
};
use std::{path::Path, time::Duration};

/// What it takes to open the same screen session again after the relay
/// went away: the viewer window and the headless viewer both come back by
/// themselves.
#[derive(Debug, Clone)]
pub struct Reopen {
    pub dir: std::path::PathBuf,
    pub machine: String,
    pub permission: Permission,
    pub max_fps: u32,
    pub ticket: Option<u64>,
    pub smooth_motion: bool,
}

impl Reopen {
    /// A new connection and session on `monitor`, retried with growing
    /// delays until `deadline`.
    ///
    /// # Errors
    /// The last attempt's error once the deadline has passed.
    pub async fn open(
        &self,
        monitor: Option<u32>,
        deadline: std::time::Instant,
    ) -> anyhow::Result<(crate::client::Client, ScreenStream)> {
        let mut delay = Duration::from_millis(250);
        loop {
            let attempt = async {
                let mut c = connect(&self.dir).await?;
                let mut s = ScreenStream::open_for_ticket(
                    &mut c,
                    &self.machine,
                    self.permission,
                    monitor,
                    self.max_fps,
                    self.ticket,
                )
                .await?;
                if self.smooth_motion {
                    s.set_smooth_motion(true).await?;
                }
                anyhow::Ok((c, s))
            }
            .await;
            match attempt {
                Ok(pair) => return Ok(pair),
                Err(e) if std::time::Instant::now() + delay < deadline => {
                    tracing::debug!("reconnect failed: {}", lifeline_net::describe(&*e));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Why `session`'s screen stream stopped with `e`, and whether that means
/// the relay went away (restarted, crashed, unreachable) rather than an
/// answer: the user stopping or the agent leaving is not retried, and
/// neither is a failed end-to-end check.
pub async fn relay_gone(
    client: &mut crate::client::Client,
    session: lifeline_proto::SessionId,
    e: &ViewError,
) -> (bool, String) {
    let reason = client.end_reason(session, Duration::from_secs(3)).await;
    let gone = match &reason {
        Some(r) => *r == lifeline_proto::EndReason::RelayShutdown,
        None => !matches!(e, ViewError::Stream(s) if s.is_e2e()),
    };
    (
        gone,
        reason.map_or_else(|| e.to_string(), |r| r.to_string()),
    )
}

/// Runs one of the session commands (others are refused).
///
/// # Errors
/// Anything that stops the command; `main` prints it and exits non-zero.
pub async fn run(dir: &Path, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Connect {
            machine,
            ticket,
            headless,
            duration,
            record,
            monitor,
            view_only,
            ask_control,
            max_fps,
            smooth_motion,
        } => {
            let permission = if view_only {
                Permission::View
            } else {
                Permission::Control
            };
            if !headless {
                // Before the session starts: the user should not be asked to
                // consent to a window that cannot open.
                crate::viewer::window::check_display()?;
            }
            let mut c = connect(dir).await?;
            let machine = match (machine, ticket) {
                (Some(m), _) => m,
                (None, Some(t)) => match c.request(ConsoleRequest::TicketShow { ticket: t }).await?
                {
                    ConsoleReply::Ticket(d) => d.row.machine_id,
                    other => bail!("unexpected answer: {other:?}"),
                },
                (None, None) => bail!("give a machine or --ticket N"),
            };
            let mut stream = ScreenStream::open_for_ticket(
                &mut c, &machine, permission, monitor, max_fps, ticket,
            )
            .await
            .with_context(|| format!("connect {machine}"))?;
            if smooth_motion {
                stream.set_smooth_motion(true).await?;
            }
            let again = Reopen {
                dir: dir.to_path_buf(),
                machine: machine.clone(),
                permission,
                max_fps,
                ticket,
                smooth_motion,
            };
            if !headless {
                return crate::viewer::window::run(c, stream, monitor, again).await;
            }
            if stream.permission == Permission::View && !view_only {
                eprintln!("the user allowed watching only");
            }
            if ask_control {
                let granted = crate::chat_cmd::ask_control(&mut c, stream.session).await?;
                println!(
                    "{}",
                    if granted {
                        "the user gave control"
                    } else {
                        "the user kept the session view only"
                    }
                );
            }
            // Watch until the deadline. If the relay goes away (restarted,
            // crashed, unreachable for a while), come back by ourselves: a
            // new connection and a new session, counted into the same
            // figures. The user stopping or the agent leaving is an answer,
            // not a reason to retry.
            let start = std::time::Instant::now();
            let deadline = start + duration;
            let mut tally = headless::Tally::default();
            let mut ended = None;
            while let Some(e) = headless::watch_until(&mut stream, deadline, &mut tally).await {
                let (gone, why) = relay_gone(&mut c, stream.session, &e).await;
                if !gone || std::time::Instant::now() >= deadline {
                    ended = Some(why);
                    break;
                }
                eprintln!("the relay went away ({why}); reconnecting…");
                match again.open(monitor, deadline).await {
                    Ok((client, next)) => {
                        eprintln!("reconnected: session {}", next.session);
                        c = client;
                        stream = next;
                    }
                    Err(why) => {
                        ended = Some(format!("relay unreachable until the end: {why:#}"));
                        break;
                    }
                }
            }
            let stats = headless::stats(&stream, &mut tally, start.elapsed());
            if let Some(dir) = &record
                && stats.frames > 0
            {
                headless::record(&stream, &stats, dir)?;
            }
            let _ = c
                .request(ConsoleRequest::CloseSession {
                    session: stream.session,
                })
                .await;
            c.close().await;
            println!(
                "{} ({}): {}x{}, {} frames in {:.1} s, {:.1} fps, {:.0} kbit/s, latency p50 {:.1} ms p99 {:.1} ms",
                stats.hostname,
                stats.machine_id,
                stats.width,
                stats.height,
                stats.frames,
                stats.duration_s,
                stats.fps,
                stats.kbit_per_s,
                stats.latency_ms_p50,
                stats.latency_ms_p99
            );
            if stats.smooth_frames > 0 {
                println!(
                    "smooth motion: {} frames showed a moving area at half resolution; the last frame is {}",
                    stats.smooth_frames,
                    if stats.last_exact {
                        "exact"
                    } else {
                        "still smooth"
                    }
                );
            }
            if let Some(why) = ended {
                bail!("session ended: {why}");
            }
        }
        Command::Chat {
            machine,
            messages,
            wait_reply,
            clipboard,
        } => {
            let mut c = connect(dir).await?;
            let r = crate::chat_cmd::run(
                &mut c,
                &machine,
                crate::chat_cmd::ChatOptions {
                    messages,
                    wait_reply,
                    clipboard,
                },
            )
            .await;
            c.close().await;
            r?;
        }
        Command::Type {
            machine,
            text,
            enter,
            view_only,
        } => {
            let n = text.chars().count();
            let mut events = vec![InputEvent::Text(text)];
            if enter {
                events.push(InputEvent::Key {
                    key: "return".into(),
                    action: Action::Click,
                });
            }
            let mut c = connect(dir).await?;
            let r = crate::input_cmd::run(&mut c, &machine, view_only, events).await;
            c.close().await;
            println!("typed {n} characters on {}", r?);
        }
        Command::Click {
            machine,
            x,
            y,
            button,
            view_only,
        } => {
            let button = match button.as_str() {
                "right" => MouseButton::Right,
                "middle" => MouseButton::Middle,
                _ => MouseButton::Left,
            };
            let events = vec![
                InputEvent::Move { x, y },
                InputEvent::Button {
                    button,
                    action: Action::Click,
                },
            ];
            let mut c = connect(dir).await?;
            let r = crate::input_cmd::run(&mut c, &machine, view_only, events).await;
            c.close().await;
            println!("clicked at {x},{y} on {}", r?);
        }
        Command::Key {
            machine,
            combo,
            view_only,
        } => {
            let keys = lifeline_proto::input::parse_combo(&combo);
            if keys.is_empty() {
                bail!("give a key or combination, e.g. ctrl+alt+t");
            }
            let mut c = connect(dir).await?;
            let r =
                crate::input_cmd::run(&mut c, &machine, view_only, vec![InputEvent::Combo(keys)])
                    .await;
            c.close().await;
            println!("pressed {combo} on {}", r?);
        }
        Command::Ping { machine, count } => {
            if count == 0 {
                bail!("--count must be at least 1");
            }
            let mut c = connect(dir).await?;
            let stats = ping::ping(&mut c, &machine, count)
                .await
                .map_err(|e: ClientError| anyhow::anyhow!(e))
                .with_context(|| format!("ping {machine}"))?;
            c.close().await;
            let us = |d: Duration| d.as_micros();
            println!(
                "{count} round trips of {} bytes to {machine} through the relay: p50 {} µs, p99 {} µs, min {} µs, max {} µs",
                ping::PROBE,
                us(stats.quantile(0.5)),
                us(stats.quantile(0.99)),
                us(stats.quantile(0.0)),
                us(stats.quantile(1.0)),
            );
        }
        other => bail!("not a session command: {other:?}"),
    }
    Ok(())
}
