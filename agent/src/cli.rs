//! `lifeline-agent` commands.

use crate::{config, enroll, runner};
use anyhow::Context;
use clap::{Parser, Subcommand};
use lifeline_net::Fingerprint;
use lifeline_proto::Secret;
use std::{path::PathBuf, time::Duration};

/// The Lifeline agent for user machines.
#[derive(Debug, Parser)]
#[command(name = "lifeline-agent", version)]
pub struct Cli {
    /// Agent state directory (default: LIFELINE_AGENT_DIR or the XDG config dir).
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll this machine with a relay using a token from an admin.
    Enroll {
        /// Relay address, host:port.
        #[arg(long)]
        relay: String,
        /// The relay's certificate fingerprint (sha256:…), from `lifeline-relay fingerprint`.
        #[arg(long)]
        fingerprint: String,
        /// Enrollment token (or LIFELINE_ENROLL_TOKEN).
        #[arg(long, env = "LIFELINE_ENROLL_TOKEN", hide_env_values = true)]
        token: String,
        /// Enroll again even if this machine already is.
        #[arg(long)]
        force: bool,
        /// The organisation's public key (hex, from `lifeline org init` on
        /// an admin's machine): sessions then need the organisation's
        /// approval of the technician's key, so the relay cannot pose as a
        /// technician.
        #[arg(long)]
        org_key: Option<String>,
    },
    /// Stay connected to the relay: presence, sessions, reconnects.
    Run {
        /// Seconds between heartbeats.
        #[arg(long, default_value_t = 10)]
        heartbeat_secs: u64,
        /// Longest reconnect delay in seconds.
        #[arg(long, default_value_t = 30)]
        max_backoff_secs: u64,
        /// How often to collect inventory, e.g. 6h (also at connect and on request).
        #[arg(long, default_value = "6h", value_parser = parse_duration)]
        inventory_interval: Duration,
        /// Collect inventory from this directory tree instead of the machine.
        #[arg(long, env = "LIFELINE_INVENTORY_ROOT")]
        inventory_root: Option<PathBuf>,
        /// Accept screen sessions without asking the user (servers, kiosks).
        #[arg(long)]
        unattended: bool,
        /// Seconds the user has to answer the consent prompt.
        #[arg(long, default_value_t = 30, hide = true)]
        consent_timeout_secs: u64,
        /// Screen source: `x11` (DISPLAY), `scrap` (builds with the `scrap`
        /// feature: the Windows/macOS path) or `synthetic:WORKLOAD` (idle,
        /// typing, scrolling, drag, video) for tests and benchmarks.
        #[arg(long, default_value = "x11")]
        capture: String,
        /// No tray icon, even with a display (the CLI request-help still works).
        #[arg(long)]
        no_tray: bool,
    },
    /// Ask the help desk for help: opens a ticket.
    RequestHelp {
        /// What is wrong.
        #[arg(long)]
        text: String,
        /// low, normal, high or urgent.
        #[arg(long, default_value = "normal", value_parser = ["low", "normal", "high", "urgent"])]
        urgency: String,
        /// Attach a screenshot of the current screen.
        #[arg(long)]
        screenshot: bool,
    },
    /// Print this machine's id.
    Id,
    /// The consent prompt window (started by `run`; prints the answer).
    #[command(hide = true)]
    UiPrompt {
        #[command(flatten)]
        facts: crate::ui::SessionFacts,
        /// Seconds before the prompt answers no by itself.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// The session indicator window (started by `run`).
    #[command(hide = true)]
    UiIndicator {
        #[command(flatten)]
        facts: crate::ui::SessionFacts,
        /// When the session started, Unix seconds.
        #[arg(long)]
        since: u64,
        /// Place from the top among the indicators of live sessions.
        #[arg(long, default_value_t = 0)]
        slot: usize,
    },
    /// The tray icon and its menu (started by `run`).
    #[command(hide = true)]
    UiTray {
        /// The ID the menu's "My machine ID" shows.
        #[arg(long)]
        machine_id: String,
    },
    /// The "Request help" dialog (started from the tray).
    #[command(hide = true)]
    UiHelp {
        /// The agent's state directory (its relay and credential).
        #[arg(long)]
        agent_dir: PathBuf,
    },
}

impl Command {
    /// Window commands run on the main thread without an async runtime.
    #[must_use]
    pub fn is_window(&self) -> bool {
        matches!(
            self,
            Command::UiPrompt { .. }
                | Command::UiIndicator { .. }
                | Command::UiTray { .. }
                | Command::UiHelp { .. }
        )
    }
}

/// Runs a window command (see [`Command::is_window`]).
///
/// # Errors
/// The window cannot open.
pub fn run_window(command: Command) -> anyhow::Result<()> {
    match command {
        Command::UiPrompt {
            facts,
            timeout_secs,
        } => {
            let answer = crate::ui::prompt::run(facts, Duration::from_secs(timeout_secs))?;
            println!("{}", serde_json::to_string(&answer)?);
            Ok(())
        }
        Command::UiIndicator { facts, since, slot } => {
            crate::ui::indicator::run(facts, since, slot)
        }
        Command::UiTray { machine_id } => crate::ui::tray::run(machine_id),
        Command::UiHelp { agent_dir } => crate::ui::help_dialog::run(agent_dir),
        _ => anyhow::bail!("not a window command"),
    }
}

/// Parses `90s`, `30m`, `6h`, `7d` (a bare number is seconds).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 90s, 30m, 6h or 7d");
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    let mult = match &s[split..] {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n * mult))
}

/// Runs a parsed command.
///
/// # Errors
/// Anything that stops the command; `main` prints it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = cli.dir.unwrap_or_else(config::default_dir);
    match cli.command {
        Command::Enroll {
            relay,
            fingerprint,
            token,
            force,
            org_key,
        } => {
            let fp: Fingerprint = fingerprint.parse()?;
            let org = org_key
                .as_deref()
                .map(crate::config::parse_org_key)
                .transpose()?;
            let cfg = enroll::enroll(&dir, &relay, &fp, Secret::new(token), force, org.as_deref())
                .await?;
            println!("enrolled as machine {}", cfg.machine_id);
            if org.is_some() {
                println!("sessions need the organisation's approval of the technician's key");
            }
        }
        Command::Run {
            heartbeat_secs,
            max_backoff_secs,
            inventory_interval,
            inventory_root,
            unattended,
            consent_timeout_secs,
            capture,
            no_tray,
        } => {
            let cfg = config::AgentConfig::load(&dir)?;
            let opts = runner::RunOptions {
                heartbeat: Duration::from_secs(heartbeat_secs.max(1)),
                backoff_max: Duration::from_secs(max_backoff_secs.max(1)),
                inventory_interval: inventory_interval.max(Duration::from_secs(60)),
                inventory: crate::inventory::InventoryConfig {
                    root: inventory_root,
                },
                unattended,
                capture: crate::capture::factory(&capture)?,
                consent_timeout: Duration::from_secs(consent_timeout_secs.clamp(1, 300)),
                tray: !no_tray,
                agent_dir: dir.clone(),
                ..runner::RunOptions::default()
            };
            tokio::select! {
                r = runner::run(&cfg, &opts) => r.context("agent stopped")?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Command::RequestHelp {
            text,
            urgency,
            screenshot,
        } => {
            let cfg = config::AgentConfig::load(&dir)?;
            let ticket = crate::help::request_help(&cfg, &text, &urgency, screenshot).await?;
            println!("ticket {ticket} opened; the help desk has been told");
        }
        Command::Id => {
            let cfg = config::AgentConfig::load(&dir)?;
            println!("{}", cfg.machine_id);
        }
        window => run_window(window)?,
    }
    Ok(())
}
