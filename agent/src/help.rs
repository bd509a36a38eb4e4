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

pub use lifeline_proto::ticket::MAX_SCREENSHOT_PNG;

/// `frame` as an RGB PNG of at most [`MAX_SCREENSHOT_PNG`] bytes: at full
/// size if it fits, else halved in each dimension until it does.
///
/// # Errors
/// Encoder failures.
pub fn screenshot_png(frame: &Frame) -> anyhow::Result<Vec<u8>> {
    let mut png = png_of(frame)?;
    let mut smaller: Option<Frame> = None;
    while png.len() > MAX_SCREENSHOT_PNG {
        let cur = smaller.as_ref().unwrap_or(frame);
        if cur.width() < 2 || cur.height() < 2 {
            bail!("the screenshot does not fit in a help request");
        }
        let half = halve(cur)?;
        png = png_of(&half)?;
        smaller = Some(half);
    }
    Ok(png)
}

/// `frame` at half its width and height, each pixel the mean of four.
fn halve(frame: &Frame) -> anyhow::Result<Frame> {
    let (w, h) = (frame.width() / 2, frame.height() / 2);
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h {
        let (top, bottom) = (frame.row(2 * y), frame.row(2 * y + 1));
        for x in 0..w as usize {
            let quad = [top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]];
            let mean = |shift: u32| -> u32 {
                let sum: u32 = quad.iter().map(|p| (p >> shift) & 0xff).sum();
                ((sum + 2) / 4) << shift
            };
            out.push(mean(0) | mean(8) | mean(16));
        }
    }
    Ok(Frame::from_pixels(w, h, out)?)
}

/// A screenshot of the display in `DISPLAY`, within
/// [`MAX_SCREENSHOT_PNG`].
///
/// # Errors
/// No display, capture failures.
pub fn screenshot() -> anyhow::Result<Vec<u8>> {
    let mut cap = crate::capture::open_default()?;
    screenshot_png(&cap.capture()?)
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
    let req = HelpRequest {
        requester: std::env::var("USER").unwrap_or_else(|_| "user".into()),
        text: text.to_string(),
        priority: priority.to_string(),
        screenshot_png,
    };
    if let Some(why) = req.problem() {
        bail!("{why}");
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
    write_msg(&mut c.send, &AgentToRelay::RequestHelp(req), MAX_FRAME_LEN).await?;
    let reply = match read_msg::<RelayToAgent>(&mut c.recv, MAX_FRAME_LEN).await {
        Ok(r) => r,
        // A refusal comes as the connection's close, its reason in words
        // (too large, too many this hour): say that, not "connection lost".
        Err(e) => match c.conn.close_reason() {
            Some(quinn::ConnectionError::ApplicationClosed(close)) if !close.reason.is_empty() => {
                let why = String::from_utf8_lossy(&close.reason).into_owned();
                bail!("{}", lifeline_proto::printable::line(why, 300));
            }
            _ => return Err(e.into()),
        },
    };
    c.conn.close(0u32.into(), b"done");
    c.endpoint.wait_idle().await;
    match reply {
        Some(RelayToAgent::TicketOpened { ticket }) => Ok(ticket),
        other => bail!("the relay did not open a ticket: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn a_screenshot_that_fits_goes_at_full_size() {
        let mut f = Frame::filled(1920, 1080, 0x0020_4060).unwrap();
        f.pixels_mut()[1920 + 3] = 0x00ff_8001;
        let png = screenshot_png(&f).unwrap();
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (1920, 1080));
        assert_eq!(&rgb[..3], &[0x20, 0x40, 0x60]);
        assert_eq!(&rgb[(1920 + 3) * 3..(1920 + 4) * 3], &[0xff, 0x80, 0x01]);
    }

    /// A 4K screen of grain, as a photo wallpaper is: about 25 MB as PNG,
    /// three times what a request may carry.
    #[test]
    fn a_4k_screenshot_too_large_for_a_request_is_halved_until_it_fits() {
        let (w, h) = (3840u32, 2160u32);
        let mut seed = 0x9e37_79b9_u32;
        let pixels = (0..w * h)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed & 0x00ff_ffff
            })
            .collect();
        let f = Frame::from_pixels(w, h, pixels).unwrap();
        assert!(png_of(&f).unwrap().len() > MAX_FRAME_LEN);
        let png = screenshot_png(&f).unwrap();
        assert!(png.len() <= MAX_SCREENSHOT_PNG, "{}", png.len());
        let (sw, sh, rgb) = decode(&png);
        // Halved once or more, the same in both dimensions.
        let k = w / sw;
        assert!(
            k >= 2 && k.is_power_of_two() && sw * k == w && sh * k == h,
            "{sw}x{sh}"
        );
        eprintln!("{w}x{h} sent as {sw}x{sh}: {} bytes", png.len());
        // Each pixel is the mean of the block it stands for.
        let mean = |x: u32, y: u32, shift: u32| -> u32 {
            let (mut sum, mut n) = (0u32, 0u32);
            for dy in 0..k {
                for dx in 0..k {
                    sum += (f.get(k * x + dx, k * y + dy).unwrap() >> shift) & 0xff;
                    n += 1;
                }
            }
            sum / n
        };
        for (x, y) in [(0, 0), (17, 300), (sw - 1, sh - 1)] {
            let at = ((y * sw + x) * 3) as usize;
            for (c, shift) in [(0, 16), (1, 8), (2, 0)] {
                let got = u32::from(rgb[at + c]);
                let want = mean(x, y, shift);
                assert!(
                    got.abs_diff(want) <= 1,
                    "({x},{y}) channel {c}: {got} vs {want}"
                );
            }
        }
    }
}
