//! The organisation's trust anchor, kept off the relay: `lifeline org init`
//! makes the organisation's signing key on an admin's machine, `lifeline
//! session-key` shows a technician this device's session key, `lifeline org
//! approve USER --key HEX` signs it. Machines enrolled with the
//! organisation's public key (`lifeline-agent enroll --org-key`) then take
//! sessions only from keys the organisation approved, so a relay cannot
//! pose as a technician with a key of its own.
//!
//! The device's session key lives in `session-key.json` (0600), apart from
//! the login, so an approval outlives logouts and token expiry.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use lifeline_net::e2e::{KEY_LEN, KeyPair};
use lifeline_proto::{ConsoleRequest, Secret};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The organisation's private key (PKCS#8, hex) in an admin's console dir.
pub const ORG_FILE: &str = "org-key.json";
/// This device's end-to-end session key.
pub const KEY_FILE: &str = "session-key.json";

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Make the organisation's signing key here (an admin's machine, never
    /// the relay) and print its public half for `lifeline-agent enroll --org-key`.
    Init,
    /// Print the organisation's public key again.
    Show,
    /// Approve a technician's session key, as they read it to you from
    /// `lifeline session-key` (in person or on the phone, not through the relay).
    Approve {
        /// The technician's account.
        user: String,
        /// Their session key, hex.
        #[arg(long)]
        key: String,
        /// Days the approval lasts.
        #[arg(long, default_value_t = 90)]
        days: u64,
    },
}

#[derive(Serialize, Deserialize)]
struct OrgFile {
    pkcs8: Secret,
    public: String,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    private: Secret,
    public: String,
}

/// This device's session key, made on first use.
///
/// # Errors
/// File system errors, or a damaged key file.
pub fn device_key(dir: &Path) -> anyhow::Result<KeyPair> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let f: KeyFile = serde_json::from_str(&text)
                .with_context(|| format!("{} is damaged", path.display()))?;
            let key = |hex: &str| lifeline_net::e2e::key_from_hex(hex, KEY_LEN);
            match (key(f.private.expose()), key(&f.public)) {
                (Some(private), Some(public)) => Ok(KeyPair { private, public }),
                _ => bail!(
                    "{} is damaged: keys are not {KEY_LEN} bytes",
                    path.display()
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = lifeline_net::e2e::generate_keypair()?;
            let f = KeyFile {
                private: Secret::new(hex::encode(&keys.private)),
                public: hex::encode(&keys.public),
            };
            save(dir, KEY_FILE, &f)?;
            Ok(keys)
        }
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Writes `value` as JSON to `dir/name` (0600 in a 0700 directory).
fn save(dir: &Path, name: &str, value: &impl Serialize) -> anyhow::Result<()> {
    lifeline_net::files::write_private(dir, name, &serde_json::to_vec_pretty(value)?)
        .map_err(|(p, e)| anyhow::anyhow!("{}: {e}", p.display()))
}

/// `lifeline session-key`: this device's session key, for an admin to approve.
///
/// # Errors
/// As [`device_key`].
pub fn show_key(dir: &Path) -> anyhow::Result<()> {
    let keys = device_key(dir)?;
    println!("{}", hex::encode(&keys.public));
    eprintln!(
        "read this to an admin of your organisation (not through the relay); \
         they approve it with `lifeline org approve USER --key …`"
    );
    Ok(())
}

fn load_org(dir: &Path) -> anyhow::Result<OrgFile> {
    let path = dir.join(ORG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no organisation key in {} (make one with `lifeline org init`)",
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// Runs an `org` subcommand.
///
/// # Errors
/// Missing or existing keys, a malformed technician key, the relay's refusal.
pub async fn run(dir: &Path, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Init => {
            if dir.join(ORG_FILE).exists() {
                bail!(
                    "{} already holds an organisation key; machines trust it, so it is not replaced",
                    dir.join(ORG_FILE).display()
                );
            }
            let (pkcs8, public) = lifeline_net::org::generate()?;
            let f = OrgFile {
                pkcs8: Secret::new(hex::encode(pkcs8)),
                public: hex::encode(&public),
            };
            save(dir, ORG_FILE, &f)?;
            println!("{}", f.public);
            eprintln!(
                "organisation key made; keep {} safe and enroll machines with --org-key {}",
                dir.join(ORG_FILE).display(),
                f.public
            );
        }
        OrgCommand::Show => println!("{}", load_org(dir)?.public),
        OrgCommand::Approve { user, key, days } => {
            let org = load_org(dir)?;
            let key_bytes = lifeline_net::e2e::key_from_hex(&key, KEY_LEN).with_context(|| {
                format!(
                    "--key must be {} hex digits, from `lifeline session-key`",
                    KEY_LEN * 2
                )
            })?;
            let pkcs8 = hex::decode(org.pkcs8.expose()).context("organisation key is damaged")?;
            let expires = lifeline_net::unix_secs().saturating_add(days.saturating_mul(86_400));
            let cert = lifeline_net::org::approve(&pkcs8, &user, &key_bytes, expires)?;
            let mut c = crate::cli::connect(dir).await?;
            c.request(ConsoleRequest::ApproveTechnician { cert })
                .await?;
            c.close().await;
            println!("approved {user}'s key for {days} days");
        }
    }
    Ok(())
}
