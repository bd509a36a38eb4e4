//! `lifeline-agent request-help`: the user asks for help; the relay opens a
//! ticket with this machine's inventory and, if wanted, a screenshot.

use crate::config::AgentConfig;
use anyhow::{Context, bail};
use lifeline_net::{Fingerprint, open_control, read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, Credential, Hello, MAX_FRAME_LEN, PROTOCOL_VERSION, PeerKind, RelayToAgent,
    SUPPORTED_VERSIONS, screen::Frame, ticket::HelpRequest,
};

/// Encodes a captured frame as an RGB PNG.
///
/// # Errors
/// Encoder failures.
pub fn png_of(frame: &Frame) -> anyhow::Result<Vec<u8>> {
    let rgb: Vec<u8> = frame
        .pixels()
        .iter()
        .flat_map(|p| {
            let [b, g, r, _] = p.to_le_bytes();
            [r, g, b]
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, frame.width(), frame.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&rgb)?;
    }
    Ok(out)
}

/// A screenshot of the display in `DISPLAY`.
///
/// # Errors
/// No display, capture failures.
pub fn screenshot() -> anyhow::Result<Vec<u8>> {
    let mut cap = crate::capture::open_default()?;
    png_of(&cap.capture()?)
}

/// Sends a help request; returns the ticket number.
///
/// # Errors
/// Not enrolled, relay unreachable or refusing.
pub async fn request_help(
    config: &AgentConfig,
    text: &str,
    priority: &str,
    with_screenshot: bool,
) -> anyhow::Result<u64> {
    if text.trim().is_empty() {
        bail!("say what is wrong: --text must not be empty");
    }
    let screenshot_png = if with_screenshot {
        screenshot().context("cannot take the screenshot")?
    } else {
        Vec::new()
    };
    send_help(config, text, priority, screenshot_png).await
}

/// Sends a help request with an already taken screenshot (PNG, or empty);
/// returns the ticket number.
///
/// # Errors
/// Empty text, relay unreachable or refusing.
pub async fn send_help(
    config: &AgentConfig,
    text: &str,
    priority: &str,
    screenshot_png: Vec<u8>,
) -> anyhow::Result<u64> {
    if text.trim().is_empty() {
        bail!("say what is wrong first");
    }
    lifeline_net::tls::install_provider();
    let fp: Fingerprint = config.fingerprint.parse()?;
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        supported_versions: SUPPORTED_VERSIONS.to_vec(),
        kind: PeerKind::AgentRequest,
        credential: Credential::Machine {
            machine_id: config.machine_id.clone(),
            secret: config.credential.clone(),
        },
        software: format!("lifeline-agent {}", env!("CARGO_PKG_VERSION")),
    };
    let mut c = open_control(&config.relay, &fp, &hello).await?;
    let req = HelpRequest {
        requester: std::env::var("USER").unwrap_or_else(|_| "user".into()),
        text: text.to_string(),
        priority: priority.to_string(),
        screenshot_png,
    };
    write_msg(&mut c.send, &AgentToRelay::RequestHelp(req), MAX_FRAME_LEN).await?;
    let reply = read_msg::<RelayToAgent>(&mut c.recv, MAX_FRAME_LEN).await?;
    c.conn.close(0u32.into(), b"done");
    c.endpoint.wait_idle().await;
    match reply {
        Some(RelayToAgent::TicketOpened { ticket }) => Ok(ticket),
        other => bail!("the relay did not open a ticket: {other:?}"),
    }
}
