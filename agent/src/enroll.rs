//! Enrollment: trade a token for a machine id and credential.

use crate::{config::AgentConfig, facts};
use lifeline_net::{ConnectError, Fingerprint, open_control, read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, Credential, Hello, Identity, MAX_FRAME_LEN, PROTOCOL_VERSION, PeerKind,
    RelayToAgent, SUPPORTED_VERSIONS, Secret,
};
use std::path::Path;

/// Enrollment failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("relay refused enrollment: {0}")]
    Refused(String),
    #[error("relay broke the protocol during enrollment: {0}")]
    Protocol(String),
    #[error(transparent)]
    Stream(#[from] lifeline_net::StreamError),
    #[error("this machine is already enrolled as {0}; pass --force to enroll it again")]
    AlreadyEnrolled(String),
    #[error("cannot save the enrollment: {0}")]
    Save(#[from] crate::config::ConfigError),
}

/// Enrolls this machine and saves the result in `dir`.
///
/// # Errors
/// Connection, refusal (e.g. "enrollment token invalid or expired"),
/// protocol and save failures; on any of them nothing is saved.
pub async fn enroll(
    dir: &Path,
    relay: &str,
    fingerprint: &Fingerprint,
    token: Secret,
    force: bool,
    org_key: Option<&[u8]>,
) -> Result<AgentConfig, EnrollError> {
    if !force && let Ok(existing) = AgentConfig::load(dir) {
        return Err(EnrollError::AlreadyEnrolled(existing.machine_id));
    }
    lifeline_net::tls::install_provider();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        supported_versions: SUPPORTED_VERSIONS.to_vec(),
        kind: PeerKind::Agent,
        credential: Credential::EnrollToken(token),
        software: format!("lifeline-agent {}", env!("CARGO_PKG_VERSION")),
    };
    let mut c = open_control(relay, fingerprint, &hello)
        .await
        .map_err(|e| match e {
            ConnectError::Refused(r) => EnrollError::Refused(r.message),
            other => EnrollError::Connect(other),
        })?;
    if c.welcome.identity != Identity::Enrolling {
        return Err(EnrollError::Protocol(
            "relay did not accept the token as enrollment".into(),
        ));
    }
    let keys =
        lifeline_net::e2e::generate_keypair().map_err(|e| EnrollError::Protocol(e.to_string()))?;
    write_msg(
        &mut c.send,
        &AgentToRelay::Enroll {
            info: facts::machine_info(),
            e2e_key: keys.public.clone(),
        },
        MAX_FRAME_LEN,
    )
    .await?;
    let reply = read_msg::<RelayToAgent>(&mut c.recv, MAX_FRAME_LEN).await?;
    c.conn.close(0u32.into(), b"enrolled");
    let config = match reply {
        Some(RelayToAgent::Enrolled {
            machine_id,
            credential,
        }) => AgentConfig {
            relay: relay.to_string(),
            fingerprint: fingerprint.to_string(),
            machine_id,
            credential,
            e2e_private: Secret::new(hex::encode(&keys.private)),
            org_key: org_key.map(hex::encode),
        },
        Some(RelayToAgent::EnrollFailed { message, .. }) => {
            return Err(EnrollError::Refused(message));
        }
        other => {
            return Err(EnrollError::Protocol(format!(
                "unexpected answer to enroll: {other:?}"
            )));
        }
    };
    config.save(dir)?;
    c.endpoint.wait_idle().await;
    Ok(config)
}
