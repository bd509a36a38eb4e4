//! `lifeline-relay` commands.

use crate::{
    auth,
    datadir::DataDir,
    server::Relay,
    store::{AuditStore, InventoryStore, SecurityStore, Store, WebhookStore},
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lifeline_proto::Role;
use std::{net::SocketAddr, path::PathBuf};

/// The Lifeline relay: pairs technicians with machines and keeps the records.
#[derive(Debug, Parser)]
#[command(name = "lifeline-relay", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct DataArg {
    /// Data directory (certificate, key, database).
    #[arg(long, env = "LIFELINE_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the certificate, key and database (idempotent) and print the fingerprint.
    Init(DataArg),
    /// Print the certificate fingerprint that agents and consoles pin.
    Fingerprint(DataArg),
    /// Run the relay (initializes the data dir if needed).
    Serve {
        #[command(flatten)]
        data: DataArg,
        /// UDP address to listen on. Use 0.0.0.0:7070 to serve a network.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Keep clipboard text in session logs (by default only its length).
        #[arg(long)]
        log_clipboard_text: bool,
        /// Help requests (new tickets) one machine may send in an hour.
        #[arg(long, env = "LIFELINE_HELP_REQUESTS_PER_HOUR", default_value_t = crate::auth::HELP_REQUESTS_PER_HOUR)]
        help_requests_per_hour: usize,
    },
    /// Manage webhooks: ticket events POSTed as JSON, signed with HMAC-SHA256.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Manage people.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person (password from LIFELINE_PASSWORD or a prompt).
    Add {
        #[command(flatten)]
        data: DataArg,
        /// Login name.
        name: String,
        /// admin, technician or auditor.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Machine groups a technician works on (comma-separated; default: all).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// List people.
    List(DataArg),
    /// Stop a person's password and every token of theirs (a lost laptop,
    /// someone who left).
    Disable {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
    /// Let a disabled person log in again.
    Enable {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
    /// A second factor (TOTP, as authenticator apps compute it) for a person.
    Totp {
        #[command(subcommand)]
        command: TotpCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TotpCommand {
    /// Create a new secret and print it (base32 and an otpauth:// address
    /// for a QR code); from then on a login needs a code too.
    Enable {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
    /// Remove the second factor.
    Disable {
        #[command(flatten)]
        data: DataArg,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a URL (secret from LIFELINE_WEBHOOK_SECRET or --secret-file).
    Add {
        #[command(flatten)]
        data: DataArg,
        /// http://host:port/path
        url: String,
        /// File holding the shared secret the signature is made with.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Unsubscribe a URL.
    Remove {
        #[command(flatten)]
        data: DataArg,
        url: String,
    },
    /// List subscriptions.
    List(DataArg),
    /// The newest deliveries: event, attempts, status.
    Log {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: use admin, technician or auditor"))
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("lifeline-relay")
}

/// Runs a parsed command.
///
/// # Errors
/// Anything that stops the command; `main` prints it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(DataArg { data_dir }) => {
            let dd = DataDir::new(&data_dir);
            let (fp, created) = dd.init()?;
            if !created {
                eprintln!("{} was already initialized", data_dir.display());
            }
            println!("fingerprint: {fp}");
        }
        Command::Fingerprint(DataArg { data_dir }) => {
            println!("fingerprint: {}", DataDir::new(data_dir).fingerprint()?);
        }
        Command::Serve {
            data,
            listen,
            log_clipboard_text,
            help_requests_per_hour,
        } => {
            serve(
                DataDir::new(data.data_dir),
                listen,
                log_clipboard_text,
                help_requests_per_hour,
            )
            .await?;
        }
        Command::User { command } => user(command)?,
        Command::Webhook { command } => webhook(command)?,
    }
    Ok(())
}

async fn serve(
    dd: DataDir,
    listen: SocketAddr,
    log_clipboard_text: bool,
    help_requests_per_hour: usize,
) -> anyhow::Result<()> {
    let (fp, _) = dd.init()?;
    let relay = Relay::bind(&dd, listen)?;
    relay
        .ctx
        .log_clipboard
        .store(log_clipboard_text, std::sync::atomic::Ordering::Relaxed);
    *relay
        .ctx
        .help_limiter
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        crate::auth::HelpLimiter::new(help_requests_per_hour);
    let addr = relay.local_addr()?;
    println!("lifeline-relay listening on {addr}");
    println!("fingerprint: {fp}");
    tracing::info!(%addr, fingerprint = %fp, data_dir = %dd.root().display(), "relay started");
    relay.run(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            data,
            name,
            role,
            groups,
        } => {
            validate_name(&name)?;
            let dd = DataDir::new(&data.data_dir);
            dd.init()?;
            let password = read_new_password(&name)?;
            let hash = auth::hash_password(&password)?;
            let mut store = dd.open_store()?;
            let id = store
                .add_user(&name, role, &hash, lifeline_net::unix_secs())
                .with_context(|| format!("cannot add {name}"))?;
            store.set_user_groups(id, &groups)?;
            let actor = local_actor();
            store.append_audit(
                &crate::audit::NewEntry::new(
                    &actor,
                    "user-added",
                    &name,
                    format!("role {role}, groups {}", groups.join(",")),
                ),
                lifeline_net::unix_secs(),
            )?;
            if groups.is_empty() {
                println!("added {name} ({role})");
            } else {
                println!("added {name} ({role}, groups: {})", groups.join(", "));
            }
        }
        UserCommand::List(DataArg { data_dir }) => {
            let mut store = DataDir::new(data_dir).open_store()?;
            for u in store.list_users()? {
                let state = if u.disabled { " (disabled)" } else { "" };
                let totp = if store.totp(u.id)?.is_some() {
                    ", totp"
                } else {
                    ""
                };
                println!("{:<24} {}{totp}{state}", u.name, u.role);
            }
        }
        UserCommand::Totp { command } => totp(command)?,
        UserCommand::Disable { data, name } => set_disabled(&data, &name, true)?,
        UserCommand::Enable { data, name } => set_disabled(&data, &name, false)?,
    }
    Ok(())
}

fn set_disabled(data: &DataArg, name: &str, disabled: bool) -> anyhow::Result<()> {
    let mut store = DataDir::new(&data.data_dir).open_store()?;
    if !store.set_user_disabled(name, disabled)? {
        bail!("no user {name:?}");
    }
    let actor = local_actor();
    let action = if disabled {
        "user-disabled"
    } else {
        "user-enabled"
    };
    store.append_audit(
        &crate::audit::NewEntry::new(&actor, action, name, String::new()),
        lifeline_net::unix_secs(),
    )?;
    if disabled {
        println!("{name} disabled: their password and every token of theirs stop working");
    } else {
        println!("{name} enabled");
    }
    Ok(())
}

fn totp(cmd: TotpCommand) -> anyhow::Result<()> {
    let actor = local_actor();
    let (data, name, secret) = match cmd {
        TotpCommand::Enable { data, name } => {
            let mut secret = vec![0u8; crate::totp::SECRET_LEN];
            getrandom::fill(&mut secret)
                .map_err(|e| anyhow::anyhow!("no randomness for a secret: {e}"))?;
            (data, name, Some(secret))
        }
        TotpCommand::Disable { data, name } => (data, name, None),
    };
    let mut store = DataDir::new(&data.data_dir).open_store()?;
    if !store.set_totp(&name, secret.as_deref())? {
        bail!("no user {name:?}");
    }
    let action = if secret.is_some() {
        "totp-enabled"
    } else {
        "totp-disabled"
    };
    store.append_audit(
        &crate::audit::NewEntry::new(&actor, action, &name, String::new()),
        lifeline_net::unix_secs(),
    )?;
    match secret {
        Some(secret) => {
            println!("TOTP enabled for {name}. Give them this once; it is not shown again.");
            println!("secret: {}", crate::totp::base32(&secret));
            println!(
                "uri:    {}",
                crate::totp::otpauth_uri("Lifeline", &name, &secret)
            );
            println!("They log in with: lifeline login … --totp CODE (or LIFELINE_TOTP=CODE)");
        }
        None => println!("TOTP disabled for {name}"),
    }
    Ok(())
}

fn webhook(cmd: WebhookCommand) -> anyhow::Result<()> {
    let actor = local_actor();
    match cmd {
        WebhookCommand::Add {
            data,
            url,
            secret_file,
        } => {
            crate::notify::parse_url(&url).map_err(anyhow::Error::msg)?;
            let secret = match secret_file {
                Some(f) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read the secret file {}", f.display()))?
                    .trim()
                    .to_string(),
                None => std::env::var("LIFELINE_WEBHOOK_SECRET").unwrap_or_default(),
            };
            if secret.len() < 16 {
                bail!(
                    "the webhook secret must be at least 16 characters (LIFELINE_WEBHOOK_SECRET or --secret-file)"
                );
            }
            let dd = DataDir::new(&data.data_dir);
            dd.init()?;
            let mut store = dd.open_store()?;
            let id = store.add_webhook(&url, &secret, lifeline_net::unix_secs())?;
            store.append_audit(
                &crate::audit::NewEntry::new(&actor, "webhook-added", &url, String::new()),
                lifeline_net::unix_secs(),
            )?;
            println!("webhook {id}: {url}");
        }
        WebhookCommand::Remove { data, url } => {
            let mut store = DataDir::new(&data.data_dir).open_store()?;
            if !store.remove_webhook(&url)? {
                bail!("no webhook for {url}");
            }
            store.append_audit(
                &crate::audit::NewEntry::new(&actor, "webhook-removed", &url, String::new()),
                lifeline_net::unix_secs(),
            )?;
            println!("removed {url}");
        }
        WebhookCommand::List(DataArg { data_dir }) => {
            let mut store = DataDir::new(data_dir).open_store()?;
            for w in store.webhooks()? {
                println!("{:<4} {}", w.id, w.url);
            }
        }
        WebhookCommand::Log { data, limit } => {
            let mut store = DataDir::new(&data.data_dir).open_store()?;
            println!(
                "{:<6} {:<20} {:<8} {:<10} {:<24} url",
                "id", "event", "attempts", "delivered", "last status"
            );
            for d in store.deliveries(limit)? {
                println!(
                    "{:<6} {:<20} {:<8} {:<10} {:<24} {}",
                    d.id,
                    d.event,
                    d.attempts,
                    if d.delivered_unix.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    d.last_status.unwrap_or_else(|| "-".into()),
                    d.url
                );
            }
        }
    }
    Ok(())
}

fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if !ok {
        bail!("user names are 1-64 letters, digits, '.', '-', '_' or '@'; got {name:?}");
    }
    Ok(())
}

/// Minimum password length accepted for a new account.
const MIN_PASSWORD: usize = 8;

fn read_new_password(name: &str) -> anyhow::Result<String> {
    let password = match std::env::var("LIFELINE_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let p = rpassword::prompt_password(format!("password for {name}: "))?;
            let again = rpassword::prompt_password("again: ")?;
            if p != again {
                bail!("the two passwords differ; nothing was changed");
            }
            p
        }
    };
    if password.chars().count() < MIN_PASSWORD {
        bail!("password must be at least {MIN_PASSWORD} characters; nothing was changed");
    }
    Ok(password)
}

/// Who acted, for the audit log, when an admin runs the relay's own
/// commands on its host.
fn local_actor() -> String {
    format!(
        "local:{}",
        std::env::var("USER").unwrap_or_else(|_| "root".into())
    )
}
