//! QUIC plumbing shared by the relay, the agent and the console.
//!
//! TLS 1.3 via rustls with the `ring` provider only, ALPN `lifeline/1`, a
//! self-signed relay certificate that clients pin by SHA-256 fingerprint, and
//! length-prefixed framed messages on QUIC streams.

pub mod client;
pub mod clipboard;
pub mod e2e;
pub mod files;
pub mod framed;
pub mod memory;
pub mod org;
pub mod tls;
pub mod udp;

pub use client::{ConnectError, Connected, connect, open_control};
pub use framed::{StreamError, read_msg, write_msg};
pub use tls::{Fingerprint, FingerprintError};

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch on this machine's wall clock.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch on this machine's wall clock.
pub fn unix_secs() -> u64 {
    unix_micros() / 1_000_000
}

/// An error and its causes on one line, `outer: inner: …`, leaving out a
/// cause whose words the line already ends with (errors that print their
/// source in their own message would otherwise say everything twice).
#[must_use]
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // A cause the line already ends with, as its last `: `-part (or
        // as all of it), is not repeated.
        let said = line == text || line.ends_with(&format!(": {text}"));
        if !text.is_empty() && !said {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod describe_tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Disk;

    #[derive(Debug, thiserror::Error)]
    enum Store {
        #[error("database: {0}")]
        Db(#[from] Disk),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot save the ticket")]
    struct Save(#[source] Store);

    #[derive(Debug, thiserror::Error)]
    #[error("error 404")]
    struct Http(#[source] Code);

    #[derive(Debug, thiserror::Error)]
    #[error("404")]
    struct Code;

    #[test]
    fn every_cause_once() {
        // A cause that only looks like the end of the line is kept.
        assert_eq!(describe(&Http(Code)), "error 404: 404");
        // The store's message already names the disk: it is not repeated.
        assert_eq!(describe(&Store::Db(Disk)), "database: disk full");
        // A cause the message leaves out is added.
        assert_eq!(
            describe(&Save(Store::Db(Disk))),
            "cannot save the ticket: database: disk full"
        );
    }
}
