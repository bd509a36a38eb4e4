//! Ticket news: to consoles that watch (`lifeline tickets --watch`), to the
//! machine that asked for help (its tray shows the status), and to webhook
//! subscribers as signed JSON POSTs.
//!
//! Webhooks use an outbox: an event is written to the store before any
//! attempt, and the deliverer retries with growing delays until the
//! receiver answers 2xx, so a receiver that is down loses nothing.

use crate::{server::Ctx, store::PendingDelivery};
use lifeline_net::unix_secs;
use lifeline_proto::RelayToAgent;
use std::{sync::Arc, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tracing::{debug, info, warn};

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Lifeline-Signature";
/// Delays between attempts; the last one repeats.
const RETRY_DELAYS_S: &[u64] = &[1, 2, 5, 15, 60, 300];
/// Attempts after which a delivery is given up (about a day).
const MAX_ATTEMPTS: u32 = 300;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tells everyone who follows tickets that `ticket` changed.
pub async fn ticket_changed(ctx: &Ctx, ticket: u64) {
    let news = match ctx.store.call(move |s| s.ticket_news(ticket)).await {
        Ok(Some(n)) => n,
        Ok(None) => return,
        Err(e) => {
            warn!(ticket, "cannot read ticket news: {e}");
            return;
        }
    };
    let _ = ctx.news.send(news.clone());
    ctx.hub.send_to_agent(
        &news.ticket.machine_id,
        RelayToAgent::TicketStatus {
            ticket,
            status: news.ticket.status.clone(),
        },
    );
    let body = match serde_json::to_string(&news) {
        Ok(b) => b,
        Err(e) => {
            warn!(ticket, "cannot encode ticket news: {e}");
            return;
        }
    };
    let event = news.event.clone();
    let now = unix_secs();
    match ctx
        .store
        .call(move |s| s.enqueue_deliveries(&event, &body, now))
        .await
    {
        Ok(0) => {}
        Ok(_) => ctx.webhook_wake.notify_one(),
        Err(e) => warn!(ticket, "cannot queue webhook deliveries: {e}"),
    }
}

/// `sha256=<hex>` of the body under the subscription's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

fn retry_delay(attempts: u32) -> u64 {
    RETRY_DELAYS_S[(attempts as usize).min(RETRY_DELAYS_S.len() - 1)]
}

/// Delivers queued webhook events until the relay stops.
pub async fn deliver_webhooks(ctx: Arc<Ctx>) {
    loop {
        let now = unix_secs();
        let due = match ctx.store.call(move |s| s.due_deliveries(now, 32)).await {
            Ok(d) => d,
            Err(e) => {
                warn!("cannot read the webhook outbox: {e}");
                Vec::new()
            }
        };
        let idle = due.is_empty();
        for d in due {
            attempt(&ctx, d).await;
        }
        if idle {
            // Woken by a new event, or check again for retries coming due.
            let _ = tokio::time::timeout(Duration::from_secs(1), ctx.webhook_wake.notified()).await;
        }
    }
}

async fn attempt(ctx: &Ctx, d: PendingDelivery) {
    let result = tokio::time::timeout(ATTEMPT_TIMEOUT, post(&d)).await;
    let status = match result {
        Ok(Ok(code)) => code.to_string(),
        Ok(Err(e)) => e,
        Err(_) => format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
    };
    let ok = status.starts_with('2') && status.len() == 3;
    let attempts = d.attempts + 1;
    let now = unix_secs();
    let (delivered, next) = if ok {
        debug!(delivery = d.id, url = %d.webhook.url, "webhook delivered");
        (Some(now), now)
    } else if attempts >= MAX_ATTEMPTS {
        warn!(delivery = d.id, url = %d.webhook.url, "webhook given up after {attempts} attempts: {status}");
        // Parked far in the future; the delivery log shows it.
        (None, u64::MAX / 4)
    } else {
        info!(delivery = d.id, url = %d.webhook.url, attempts, "webhook failed: {status}");
        (None, now + retry_delay(attempts - 1))
    };
    let id = d.id;
    if let Err(e) = ctx
        .store
        .call(move |s| s.delivery_attempted(id, &status, delivered, next))
        .await
    {
        warn!(delivery = id, "cannot record the webhook attempt: {e}");
    }
}

/// A webhook URL we can deliver to: `http://host[:port]/path`.
#[derive(Debug, PartialEq, Eq)]
pub struct HookUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Parses and checks a webhook URL.
///
/// # Errors
/// Anything but a plain `http://` URL with a host.
pub fn parse_url(url: &str) -> Result<HookUrl, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!(
            "webhook URL {url:?}: only http:// is supported (put a TLS proxy in front for https)"
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "webhook URL {url:?}: no host (or credentials in it)"
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("webhook URL {url:?}: bad port {p:?}"))?;
            (h, port)
        }
        _ => (authority, 80),
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("webhook URL {url:?}: no host"));
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "webhook URL {url:?}: spaces or control characters in the path"
        ));
    }
    Ok(HookUrl {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        path: path.to_string(),
    })
}

/// One HTTP/1.1 POST; returns the status code.
async fn post(d: &PendingDelivery) -> Result<u16, String> {
    let url = parse_url(&d.webhook.url)?;
    let mut sock = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let host_header = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: lifeline-relay/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Lifeline-Event: {}\r\nX-Lifeline-Delivery: {}\r\n{SIGNATURE_HEADER}: {}\r\nConnection: close\r\n\r\n",
        url.path,
        env!("CARGO_PKG_VERSION"),
        d.body.len(),
        d.event,
        d.id,
        signature(&d.webhook.secret, d.body.as_bytes()),
    );
    sock.write_all(head.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    sock.write_all(d.body.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    // Only the status line matters.
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let code = line
        .strip_prefix("HTTP/1.")
        .and_then(|l| l.get(2..5))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "the receiver did not answer HTTP".to_string())?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/hooks/lifeline").unwrap(),
            HookUrl {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/hooks/lifeline".into()
            }
        );
        assert_eq!(parse_url("http://example.org").unwrap().port, 80);
        assert_eq!(parse_url("http://[::1]:9000/x").unwrap().host, "::1");
        assert!(
            parse_url("https://example.org/")
                .unwrap_err()
                .contains("only http://")
        );
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://u:p@host/").is_err());
        assert!(
            parse_url("http://host:99999/")
                .unwrap_err()
                .contains("bad port")
        );
        assert!(parse_url("http://host/a b").is_err());
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_back_off_and_then_repeat_the_longest_delay() {
        assert_eq!(retry_delay(0), 1);
        assert_eq!(retry_delay(3), 15);
        assert_eq!(retry_delay(50), 300);
    }
}
