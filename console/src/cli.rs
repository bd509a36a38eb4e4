//! `lifeline` commands.

use crate::{
    client::Client,
    config::{self, ConsoleConfig},
    inventory_cmd::InventoryCommand,
    ticket_cmd::TicketCommand,
};
use anyhow::bail;
use clap::{Parser, Subcommand};
use lifeline_net::Fingerprint;
use lifeline_proto::{ConsoleReply, ConsoleRequest, Identity, Secret};
use std::{path::PathBuf, time::Duration};

/// The Lifeline console for technicians, admins and auditors.
#[derive(Debug, Parser)]
#[command(name = "lifeline", version)]
pub struct Cli {
    /// Console state directory (default: LIFELINE_CONFIG_DIR or the XDG config dir).
    #[arg(long, global = true)]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a relay (password from LIFELINE_PASSWORD or a prompt).
    Login {
        /// Relay address, host:port.
        #[arg(long)]
        relay: String,
        /// The relay's certificate fingerprint, sha256:….
        #[arg(long)]
        fingerprint: String,
        /// Your user name.
        #[arg(long)]
        user: String,
        /// The six-digit code from your authenticator app, when your
        /// account has a second factor (or LIFELINE_TOTP).
        #[arg(long)]
        totp: Option<String>,
    },
    /// End the saved login: the relay revokes its token, then it is deleted.
    Logout,
    /// Show who you are logged in as.
    Whoami,
    /// Print this device's session key, for an admin's `lifeline org approve`.
    SessionKey,
    /// The organisation's key and its approvals of technicians (admins).
    Org {
        #[command(subcommand)]
        command: crate::org_cmd::OrgCommand,
    },
    /// Enrollment tokens (admins).
    EnrollToken {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// List enrolled machines.
    Machines {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Only machines not seen for this long, e.g. 30d.
        #[arg(long, value_parser = parse_duration)]
        stale: Option<Duration>,
    },
    /// The help-desk queue.
    Tickets {
        /// Only tickets assigned to me.
        #[arg(long)]
        mine: bool,
        /// new, open, pending, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        /// 1, 2 or 3.
        #[arg(long)]
        tier: Option<u8>,
        #[arg(long)]
        json: bool,
        /// After the list, print every new or changed ticket as it happens.
        #[arg(long)]
        watch: bool,
        /// With --watch: stop after this long (e.g. 10m) instead of at Ctrl+C.
        #[arg(long, value_parser = parse_duration, requires = "watch")]
        watch_for: Option<Duration>,
    },
    /// Session logs, newest first.
    Sessions {
        /// Only this machine's (id or hostname).
        #[arg(long)]
        machine: Option<String>,
        /// How far back, e.g. 7d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        since: Duration,
        #[arg(long)]
        json: bool,
    },
    /// One session's log.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Work on one ticket.
    Ticket {
        #[command(subcommand)]
        command: TicketCommand,
    },
    /// Help-desk reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// The audit log of privileged actions (admins, auditors).
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        /// How far back, e.g. 30d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        since: Duration,
        /// Only this person's (or component's) actions.
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Hardware and software inventory.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Measure round trips through the relay to a machine's agent and back.
    Ping {
        /// Machine id or hostname.
        machine: String,
        /// Number of round trips.
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
    /// Machine settings (admins).
    Machine {
        #[command(subcommand)]
        command: MachineCommand,
    },
    /// Chat with the user of a machine (their indicator window shows it).
    /// Without --message, lines are read from stdin until it closes.
    Chat {
        machine: String,
        /// Send this line (repeatable), then stop.
        #[arg(long = "message", short = 'm')]
        messages: Vec<String>,
        /// After the messages, wait this long for the user's reply (a line
        /// or clipboard text they share) and print it, e.g. 60s.
        #[arg(long, value_parser = parse_duration)]
        wait_reply: Option<Duration>,
        /// Put this text on the user's clipboard; it arrives only while the
        /// user shares the clipboard (a checkbox in their window).
        #[arg(long)]
        clipboard: Option<String>,
    },
    /// Type text on a machine (needs a control session).
    Type {
        machine: String,
        text: String,
        /// Press Enter afterwards.
        #[arg(long)]
        enter: bool,
        /// Open a view-only session anyway (the agent must refuse the input).
        #[arg(long)]
        view_only: bool,
    },
    /// Click at root-window coordinates on a machine.
    Click {
        machine: String,
        x: i32,
        y: i32,
        #[arg(long, value_parser = ["left", "right", "middle"], default_value = "left")]
        button: String,
        #[arg(long)]
        view_only: bool,
    },
    /// Press a key or combination on a machine, e.g. ctrl+alt+t, return, f5.
    Key {
        machine: String,
        combo: String,
        #[arg(long)]
        view_only: bool,
    },
    /// Watch (and with control, operate) a machine's screen.
    Connect {
        /// Machine id or hostname (or give --ticket).
        #[arg(required_unless_present = "ticket")]
        machine: Option<String>,
        /// Connect to this ticket's machine; the session log lands on the ticket.
        #[arg(long)]
        ticket: Option<u64>,
        /// No window: watch for --duration, print figures, optionally --record.
        #[arg(long)]
        headless: bool,
        /// How long a headless session watches, e.g. 5s.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: Duration,
        /// Headless: write DIR/last.png and DIR/stats.json.
        #[arg(long)]
        record: Option<PathBuf>,
        /// Monitor index to show (default: all monitors).
        #[arg(long)]
        monitor: Option<u32>,
        /// Ask only to watch, never to control.
        #[arg(long)]
        view_only: bool,
        /// Headless: once watching, ask the user for control (they get a
        /// prompt) and print their answer. The window has a button for it.
        #[arg(long, requires = "headless")]
        ask_control: bool,
        /// Frame-rate ceiling.
        #[arg(long, default_value_t = 60)]
        max_fps: u32,
        /// Large moving areas (a video) at half resolution while they move,
        /// exact again as soon as they hold still: smoother on thin links.
        /// Text, scrolling and dragged windows stay exact either way.
        #[arg(long)]
        smooth_motion: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Who, when, consent, traffic, frames, chat transcript, how it ended.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MachineCommand {
    /// attended: the user is asked before every session (default);
    /// unattended: sessions start without asking (servers, kiosks), still
    /// logged and still shown on screen.
    SetPolicy {
        machine: String,
        #[arg(value_parser = ["attended", "unattended"])]
        policy: String,
    },
    /// Revoke the machine's credential (admins): its agent is disconnected
    /// now and cannot connect again until the machine is enrolled anew.
    Revoke { machine: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and name the first entry that does not fit.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it.
    Create {
        /// Group the enrolled machines join.
        #[arg(long)]
        group: Option<String>,
        /// Lifetime, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        ttl: Duration,
        /// How many machines may enroll with it (default: unlimited until it expires).
        #[arg(long)]
        uses: Option<u32>,
    },
    /// Revoke a token before it expires (the token from
    /// LIFELINE_ENROLL_TOKEN, or the argument).
    Revoke { token: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Tickets created in a period: counts by status, tier and priority,
    /// time to first response and to resolve, escalation rate, top
    /// machines and most common problem words.
    Tickets {
        /// How far back, e.g. 30d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        since: Duration,
        #[arg(long, default_value = "md", value_parser = ["md", "csv", "json"])]
        format: String,
    },
}

/// Parses `90s`, `30m`, `24h`, `7d` (a bare number is seconds).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 30m, 24h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?} is not a duration like 90s, 30m, 24h or 7d")),
    };
    Ok(Duration::from_secs(secs))
}

/// A duration as [`parse_duration`] reads it, in its largest whole unit:
/// "30d", "2h", "15m", "90s".
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s >= 86_400 && s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s >= 3_600 && s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s >= 60 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

fn password() -> anyhow::Result<Secret> {
    match std::env::var("LIFELINE_PASSWORD") {
        Ok(p) => Ok(Secret::new(p)),
        Err(_) => Ok(Secret::new(rpassword::prompt_password("password: ")?)),
    }
}

pub(crate) async fn connect(dir: &std::path::Path) -> anyhow::Result<Client> {
    let cfg = ConsoleConfig::load(dir)?;
    Ok(Client::connect(&cfg)
        .await?
        .with_pins(dir.join(crate::pins::FILE)))
}

/// Runs a parsed command.
///
/// # Errors
/// Anything that stops the command; `main` prints it and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = cli.config_dir.unwrap_or_else(config::default_dir);
    match cli.command {
        Command::Login {
            relay,
            fingerprint,
            user,
            totp,
        } => {
            let fp: Fingerprint = fingerprint.parse()?;
            let totp = totp
                .or_else(|| std::env::var("LIFELINE_TOTP").ok())
                .map(Secret::new);
            let keys = crate::org_cmd::device_key(&dir)?;
            let client =
                Client::login_with_key(&relay, &fp, &user, password()?, totp, keys).await?;
            let Identity::Person {
                user,
                role,
                token: Some(token),
                token_expires_unix,
            } = client.welcome().identity.clone()
            else {
                bail!("the relay did not issue a session token");
            };
            ConsoleConfig {
                relay: relay.clone(),
                fingerprint: fp.to_string(),
                user: user.clone(),
                token,
                token_expires_unix,
                e2e_private: client.e2e_private_hex(),
            }
            .save(&dir)?;
            client.close().await;
            println!("logged in as {user} ({role}) at {relay}");
        }
        Command::Logout => crate::admin_cmd::logout(&dir).await?,
        Command::SessionKey => crate::org_cmd::show_key(&dir)?,
        Command::Org { command } => crate::org_cmd::run(&dir, command).await?,
        Command::EnrollToken {
            command: TokenCommand::Revoke { token },
        } => crate::admin_cmd::revoke_enroll_token(&dir, token).await?,
        Command::Machine {
            command: MachineCommand::Revoke { machine },
        } => crate::admin_cmd::revoke_machine(&dir, &machine).await?,
        Command::Whoami => {
            let mut c = connect(&dir).await?;
            if let ConsoleReply::Whoami { user, role } = c.request(ConsoleRequest::Whoami).await? {
                println!("{user} ({role})");
            }
            c.close().await;
        }
        Command::EnrollToken {
            command: TokenCommand::Create { group, ttl, uses },
        } => {
            let mut c = connect(&dir).await?;
            let reply = c
                .request(ConsoleRequest::CreateEnrollToken {
                    group,
                    ttl_secs: ttl.as_secs(),
                    max_uses: uses,
                })
                .await?;
            c.close().await;
            let ConsoleReply::EnrollToken { token, .. } = reply else {
                bail!("unexpected answer: {reply:?}");
            };
            // The token is the command's output; it goes to stdout only.
            println!("{}", token.expose());
        }
        Command::Machines { json, stale } => {
            let mut c = connect(&dir).await?;
            let r = {
                let mut stdout = std::io::stdout().lock();
                crate::machine_cmd::list(&mut c, stale, json, &mut stdout).await
            };
            c.close().await;
            r?;
        }
        Command::Tickets {
            mine,
            status,
            tier,
            json,
            watch,
            watch_for,
        } => {
            let mut c = connect(&dir).await?;
            let filter = crate::ticket_cmd::TicketFilter {
                mine,
                status,
                tier,
                created_since: 0,
            };
            let mut r = {
                let mut stdout = std::io::stdout().lock();
                crate::ticket_cmd::list(&mut c, &filter, json, &mut stdout)
                    .await
                    .map(drop)
            };
            if r.is_ok() && watch {
                r = crate::ticket_cmd::watch(&mut c, watch_for).await;
            }
            c.close().await;
            r?;
        }
        Command::Sessions {
            machine,
            since,
            json,
        } => {
            let mut c = connect(&dir).await?;
            let mut stdout = std::io::stdout().lock();
            let r = crate::session_cmd::list(&mut c, machine, since, json, &mut stdout).await;
            c.close().await;
            r?;
        }
        Command::Session {
            command: SessionCommand::Show { id, json },
        } => {
            let mut c = connect(&dir).await?;
            let r = crate::session_cmd::show(&mut c, id, json).await;
            c.close().await;
            r?;
        }
        Command::Report {
            command: ReportCommand::Tickets { since, format },
        } => {
            let mut c = connect(&dir).await?;
            let r = crate::report::fetch(&mut c, since).await;
            c.close().await;
            let report = r?;
            match format.as_str() {
                "json" => println!("{}", crate::render::json(&report)?),
                "csv" => print!("{}", crate::report::csv(&report)),
                _ => print!("{}", crate::report::markdown(&report)),
            }
        }
        Command::Ticket { command } => {
            let mut c = connect(&dir).await?;
            let r = crate::ticket_cmd::run(&mut c, command).await;
            c.close().await;
            r?;
        }
        Command::Audit {
            command,
            since,
            actor,
            json,
        } => {
            let mut c = connect(&dir).await?;
            let r = match command {
                Some(AuditCommand::Verify) => crate::audit_cmd::verify(&mut c).await,
                None => {
                    let mut stdout = std::io::stdout().lock();
                    crate::audit_cmd::list(&mut c, since, actor, json, &mut stdout)
                        .await
                        .map(drop)
                }
            };
            c.close().await;
            r?;
        }
        Command::Inventory { command } => {
            let mut c = connect(&dir).await?;
            let result = crate::inventory_cmd::run(&mut c, command).await;
            c.close().await;
            result?;
        }
        command @ (Command::Connect { .. }
        | Command::Chat { .. }
        | Command::Type { .. }
        | Command::Click { .. }
        | Command::Key { .. }
        | Command::Ping { .. }) => crate::remote_cmd::run(&dir, command).await?,
        Command::Machine {
            command: MachineCommand::SetPolicy { machine, policy },
        } => {
            let mut c = connect(&dir).await?;
            let r = c
                .request(ConsoleRequest::SetPolicy {
                    machine: machine.clone(),
                    unattended: policy == "unattended",
                })
                .await;
            c.close().await;
            r?;
            println!("{machine}: {policy}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_written() {
        for written in ["30d", "2h", "15m", "90s", "0s", "25h"] {
            assert_eq!(format_duration(parse_duration(written).unwrap()), written);
        }
        assert_eq!(format_duration(Duration::from_secs(86_400 + 60)), "1441m");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("soon").unwrap_err().contains("24h"));
        assert!(parse_duration("3w").is_err());
    }
}
