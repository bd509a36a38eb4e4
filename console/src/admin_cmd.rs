//! Logout and the admin's revocations.

use crate::{cli::connect, config::ConsoleConfig};
use anyhow::{Context, bail};
use lifeline_proto::{ConsoleReply, ConsoleRequest, Secret};
use std::path::Path;

/// Tells the relay to revoke the saved token, then deletes it. A relay that
/// cannot be reached does not keep the login on this machine: the file goes
/// anyway and the message says the token still lives until it expires.
///
/// # Errors
/// The saved login cannot be deleted.
pub async fn logout(dir: &Path) -> anyhow::Result<()> {
    let told = async {
        let mut c = connect(dir).await?;
        let r = c.request(ConsoleRequest::Logout).await;
        c.close().await;
        r.map(|_| ()).map_err(anyhow::Error::from)
    }
    .await;
    ConsoleConfig::remove(dir)?;
    match told {
        Ok(()) => println!("logged out; the relay revoked this login's token"),
        Err(e) => println!(
            "logged out here, but the relay was not told ({}); the token stays valid until it expires",
            lifeline_net::describe(&*e)
        ),
    }
    Ok(())
}

/// `lifeline machine revoke MACHINE`.
///
/// # Errors
/// Not an admin, no such machine, the relay unreachable.
pub async fn revoke_machine(dir: &Path, machine: &str) -> anyhow::Result<()> {
    let mut c = connect(dir).await?;
    let r = c
        .request(ConsoleRequest::RevokeMachine {
            machine: machine.to_string(),
        })
        .await;
    c.close().await;
    match r? {
        ConsoleReply::Done => {
            println!("{machine}: revoked; its agent is disconnected and cannot connect again");
            Ok(())
        }
        other => bail!("unexpected answer: {other:?}"),
    }
}

/// `lifeline enroll-token revoke [TOKEN]`.
///
/// # Errors
/// No token given, not an admin, no such token.
pub async fn revoke_enroll_token(dir: &Path, token: Option<String>) -> anyhow::Result<()> {
    let token = token
        .or_else(|| std::env::var("LIFELINE_ENROLL_TOKEN").ok())
        .context("give the token as an argument or in LIFELINE_ENROLL_TOKEN")?;
    let mut c = connect(dir).await?;
    let r = c
        .request(ConsoleRequest::RevokeEnrollToken {
            token: Secret::new(token),
        })
        .await;
    c.close().await;
    r?;
    println!("enrollment token revoked");
    Ok(())
}
