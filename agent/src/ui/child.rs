//! The agent's side of its windows: starts them as child processes and
//! talks to them.

use super::{FromIndicator, PromptAnswer, ToIndicator, permission_word};
use lifeline_proto::{Decision, Permission, SessionId, SessionOffer, SessionPurpose};
use std::{process::Stdio, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};
use tracing::{info, warn};

/// How long the user has to answer the prompt.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Is there an X display to put a window on? `Err` says why not.
///
/// # Errors
/// `DISPLAY` unset or empty.
pub fn display() -> Result<String, String> {
    match std::env::var("DISPLAY") {
        Ok(d) if !d.is_empty() => Ok(d),
        _ => Err("this machine has no display (DISPLAY unset)".into()),
    }
}

fn base_command(sub: &str, offer: &SessionOffer, permission: Permission) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "lifeline-agent".into());
    let mut cmd = Command::new(exe);
    cmd.arg(sub)
        .arg("--technician")
        .arg(&offer.technician)
        .arg("--role")
        .arg(offer.role.as_str())
        .arg("--permission")
        .arg(permission_word(permission))
        .arg("--purpose")
        .arg(match offer.purpose {
            SessionPurpose::Chat => "chat",
            _ => "screen",
        });
    if let Some(t) = offer.ticket {
        cmd.arg("--ticket").arg(t.to_string());
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Asks the user with the prompt window. Dropping the future (the offer
/// was withdrawn) kills the window.
pub async fn ask(offer: &SessionOffer, timeout: Duration) -> Decision {
    if let Err(why) = display() {
        return Decision::Decline {
            reason: format!("nobody can be asked: {why} and the machine's policy is attended"),
        };
    }
    let mut cmd = base_command("ui-prompt", offer, offer.permission);
    cmd.arg("--timeout-secs").arg(timeout.as_secs().to_string());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Decision::Decline {
                reason: format!("the consent prompt could not start: {e}"),
            };
        }
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut stderr = child.stderr.take().expect("piped");
    let mut line = String::new();
    let read = tokio::time::timeout(
        timeout + Duration::from_secs(5),
        stdout.read_line(&mut line),
    );
    let answer = match read.await {
        Ok(Ok(n)) if n > 0 => serde_json::from_str::<PromptAnswer>(line.trim()).ok(),
        Ok(_) => None,
        Err(_) => Some(PromptAnswer::Timeout),
    };
    let decision = match answer {
        Some(PromptAnswer::Allow) => Decision::Accept,
        Some(PromptAnswer::AllowView) => Decision::AcceptViewOnly,
        Some(PromptAnswer::Deny) => Decision::Decline {
            reason: String::new(),
        },
        Some(PromptAnswer::Timeout) => Decision::NoAnswer,
        None => {
            let mut err = String::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(1), stderr.read_to_string(&mut err)).await;
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Decision::Decline {
                reason: format!("the consent prompt could not be shown: {}", last.trim()),
            }
        }
    };
    info!(
        session = offer.session,
        ?decision,
        "the user answered the prompt"
    );
    let _ = child.start_kill();
    decision
}

/// An indicator window gone sooner than this after its start never opened.
const NEVER_OPENED: Duration = Duration::from_secs(3);

/// A running indicator window.
pub struct IndicatorChild {
    // Kept so the window dies with the session.
    _child: Child,
    stdin: Option<ChildStdin>,
    slot: usize,
}

impl IndicatorChild {
    /// Opens the indicator for a session that just started. Its events go to
    /// `events`, tagged with the session.
    ///
    /// # Errors
    /// No display, or the window process cannot start.
    pub fn spawn(
        offer: &SessionOffer,
        permission: Permission,
        since_unix: u64,
        slot: usize,
        events: mpsc::UnboundedSender<(SessionId, FromIndicator)>,
    ) -> Result<Self, String> {
        display()?;
        let mut cmd = base_command("ui-indicator", offer, permission);
        cmd.arg("--since").arg(since_unix.to_string());
        cmd.arg("--slot").arg(slot.to_string());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("the session indicator could not start: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let session = offer.session;
        let started = std::time::Instant::now();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<FromIndicator>(&line) {
                    Ok(ev) => {
                        if events.send((session, ev)).is_err() {
                            return;
                        }
                    }
                    Err(e) => warn!(session, "indicator wrote a bad line: {e}"),
                }
            }
            // Its output ended: the window is gone. After a session's end
            // this is only the window closing with it, and is ignored. One
            // gone within moments of starting never opened (no OpenGL, a
            // busy X server): as when it cannot start, the session goes on
            // and the log says why (the window's own error is logged).
            if started.elapsed() < NEVER_OPENED {
                warn!(session, "the indicator window could not open");
                return;
            }
            let _ = events.send((session, FromIndicator::Closed));
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                warn!(session, "indicator: {line}");
            }
        });
        let stdin = child.stdin.take();
        Ok(Self {
            _child: child,
            stdin,
            slot,
        })
    }

    /// Its place in the stack of indicator windows, from the top.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Tells the window something; a window that went away is ignored.
    pub async fn send(&mut self, msg: &ToIndicator) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let mut line = serde_json::to_string(msg).unwrap_or_default();
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            self.stdin = None;
        }
    }
}

/// What the tray (and the help dialog it opens) tell the run loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayEvent {
    /// The user chose a menu entry.
    Menu(super::tray::FromTray),
    /// The help dialog opened a ticket.
    TicketOpened(u64),
}

/// The running tray icon.
pub struct TrayChild {
    _child: Child,
    stdin: Option<ChildStdin>,
    events_tx: mpsc::UnboundedSender<TrayEvent>,
    /// Menu choices and opened tickets.
    pub events: mpsc::UnboundedReceiver<TrayEvent>,
    shown: Option<super::tray::TrayState>,
    /// The user's latest ticket and its status.
    pub ticket: Option<(u64, String)>,
}

impl TrayChild {
    /// Starts the tray icon. Its failure (no tray host) is logged by the
    /// caller once; the agent works on without it.
    ///
    /// # Errors
    /// No display, or the process cannot start.
    pub fn spawn(machine_id: &str) -> Result<Self, String> {
        display()?;
        let exe = std::env::current_exe().unwrap_or_else(|_| "lifeline-agent".into());
        let mut child = Command::new(exe)
            .arg("ui-tray")
            .arg("--machine-id")
            .arg(machine_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("the tray icon could not start: {e}"))?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let tx = events_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<super::tray::FromTray>(&line) {
                    Ok(ev) => {
                        if tx.send(TrayEvent::Menu(ev)).is_err() {
                            return;
                        }
                    }
                    Err(e) => warn!("tray wrote a bad line: {e}"),
                }
            }
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                warn!("tray icon: {line}");
            }
        });
        let stdin = child.stdin.take();
        Ok(Self {
            _child: child,
            stdin,
            events_tx,
            events,
            shown: None,
            ticket: None,
        })
    }

    /// Shows a state (only when it changed).
    pub async fn set(&mut self, state: super::tray::TrayState) {
        if self.shown.as_ref() == Some(&state) {
            return;
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let mut line =
            serde_json::to_string(&super::tray::ToTray::State(state.clone())).unwrap_or_default();
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            self.stdin = None;
        }
        self.shown = Some(state);
    }

    /// Opens the "Request help" dialog; the ticket it opens comes back as
    /// [`TrayEvent::TicketOpened`].
    pub fn open_help(&self, agent_dir: &std::path::Path) {
        let exe = std::env::current_exe().unwrap_or_else(|_| "lifeline-agent".into());
        let spawned = Command::new(exe)
            .arg("ui-help")
            .arg("--agent-dir")
            .arg(agent_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                warn!("the help dialog could not start: {e}");
                return;
            }
        };
        let tx = self.events_tx.clone();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(t) = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["ticket"].as_u64())
                {
                    info!(ticket = t, "the user asked for help from the tray");
                    let _ = tx.send(TrayEvent::TicketOpened(t));
                }
            }
            let _ = child.wait().await;
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                warn!("help dialog: {line}");
            }
        });
    }
}
