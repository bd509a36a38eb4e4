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

/// A running indicator window.
pub struct IndicatorChild {
    // Kept so the window dies with the session.
    _child: Child,
    stdin: Option<ChildStdin>,
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
        events: mpsc::UnboundedSender<(SessionId, FromIndicator)>,
    ) -> Result<Self, String> {
        display()?;
        let mut cmd = base_command("ui-indicator", offer, permission);
        cmd.arg("--since").arg(since_unix.to_string());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("the session indicator could not start: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let session = offer.session;
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
        })
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
