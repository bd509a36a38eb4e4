//! Connecting to the relay: resolve, QUIC + pinned TLS, control stream, hello.

use crate::{
    framed::{StreamError, read_frame, write_msg},
    tls::{self, Fingerprint},
};
use lifeline_proto::{
    ErrorCode, Hello, MAX_FRAME_LEN, Refused, Welcome,
    handshake::{ClientHandshake, HandshakeError},
};
use std::{net::SocketAddr, time::Duration};

/// How long connecting plus the handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection to the relay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve relay address {0:?}")]
    Resolve(String),
    #[error(
        "relay certificate fingerprint mismatch: expected {expected}, received {received}; \
         refusing to talk to this relay"
    )]
    FingerprintMismatch {
        expected: Fingerprint,
        received: Fingerprint,
    },
    #[error("cannot open a local UDP socket: {0}")]
    Socket(std::io::Error),
    #[error("cannot connect to relay at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: quinn::ConnectError,
    },
    #[error("connection to relay at {addr} failed: {source}")]
    Connection {
        addr: SocketAddr,
        source: quinn::ConnectionError,
    },
    #[error("relay at {0} did not answer within 10 s")]
    Timeout(SocketAddr),
    #[error("{}", refused_text(.0))]
    Refused(Refused),
    #[error("relay broke the protocol during the handshake: {0}")]
    Protocol(String),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Config(#[from] tls::ConfigError),
}

fn refused_text(r: &Refused) -> String {
    match r.code {
        ErrorCode::UnsupportedVersion => format!(
            "{} (this program speaks protocol versions {:?}, the relay speaks {:?})",
            r.message,
            lifeline_proto::SUPPORTED_VERSIONS,
            r.supported_versions
        ),
        _ => r.message.clone(),
    }
}

impl ConnectError {
    /// The relay's refusal code, if it refused.
    pub fn refusal(&self) -> Option<ErrorCode> {
        match self {
            ConnectError::Refused(r) => Some(r.code),
            _ => None,
        }
    }
}

/// A live, authenticated connection and its control stream.
#[derive(Debug)]
pub struct Connected {
    pub conn: quinn::Connection,
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
    pub welcome: Welcome,
    pub endpoint: quinn::Endpoint,
}

/// Resolves `addr` ("host:port").
///
/// # Errors
/// [`ConnectError::Resolve`] when nothing resolves.
pub async fn resolve(addr: &str) -> Result<SocketAddr, ConnectError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|_| ConnectError::Resolve(addr.to_string()))?
        .next()
        .ok_or_else(|| ConnectError::Resolve(addr.to_string()))
}

/// Opens a QUIC connection to the relay, pinning its certificate.
///
/// # Errors
/// Resolution, socket, TLS (including [`ConnectError::FingerprintMismatch`])
/// and timeout failures.
pub async fn connect(
    addr: &str,
    fingerprint: &Fingerprint,
) -> Result<(quinn::Endpoint, quinn::Connection), ConnectError> {
    let remote = resolve(addr).await?;
    let bind: SocketAddr = if remote.is_ipv6() {
        "[::]:0"
            .parse()
            .map_err(|_| ConnectError::Resolve(addr.into()))?
    } else {
        "0.0.0.0:0"
            .parse()
            .map_err(|_| ConnectError::Resolve(addr.into()))?
    };
    let socket = crate::udp::bind(bind).map_err(ConnectError::Socket)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| ConnectError::Socket(std::io::Error::other("no async runtime for QUIC")))?;
    let mut endpoint = quinn::Endpoint::new(tls::client_endpoint_config(), None, socket, runtime)
        .map_err(ConnectError::Socket)?;
    let (config, verifier) = tls::client_config(fingerprint.clone())?;
    endpoint.set_default_client_config(config);
    let connecting = endpoint
        .connect(remote, tls::SERVER_NAME)
        .map_err(|source| ConnectError::Connect {
            addr: remote,
            source,
        })?;
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => return Err(ConnectError::Timeout(remote)),
        Ok(Ok(conn)) => conn,
        Ok(Err(source)) => {
            if let Some(received) = verifier.seen().filter(|s| s != fingerprint) {
                return Err(ConnectError::FingerprintMismatch {
                    expected: fingerprint.clone(),
                    received,
                });
            }
            return Err(ConnectError::Connection {
                addr: remote,
                source,
            });
        }
    };
    Ok((endpoint, conn))
}

/// Connects, opens the control stream and performs the hello handshake.
///
/// # Errors
/// Everything [`connect`] can fail with, plus the relay's refusal.
pub async fn open_control(
    addr: &str,
    fingerprint: &Fingerprint,
    hello: &Hello,
) -> Result<Connected, ConnectError> {
    let (endpoint, conn) = connect(addr, fingerprint).await?;
    let remote = conn.remote_address();
    let handshake = async {
        let (mut send, mut recv) =
            conn.open_bi()
                .await
                .map_err(|source| ConnectError::Connection {
                    addr: remote,
                    source,
                })?;
        let (mut machine, _) =
            ClientHandshake::start(hello).map_err(|e| ConnectError::Protocol(e.to_string()))?;
        write_msg(&mut send, hello, MAX_FRAME_LEN).await?;
        let Some(payload) = read_frame(&mut recv, MAX_FRAME_LEN).await? else {
            return Err(ConnectError::Protocol(
                "relay closed the control stream before answering".into(),
            ));
        };
        let mut framed = (payload.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&payload);
        match machine.on_bytes(&framed) {
            Ok(Some(welcome)) => Ok((send, recv, welcome)),
            Ok(None) => Err(ConnectError::Protocol("incomplete answer".into())),
            Err(HandshakeError::Refused(r)) => Err(ConnectError::Refused(r)),
            Err(e) => Err(ConnectError::Protocol(e.to_string())),
        }
    };
    let (send, recv, welcome) = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(result) => result?,
        Err(_) => return Err(ConnectError::Timeout(remote)),
    };
    Ok(Connected {
        conn,
        send,
        recv,
        welcome,
        endpoint,
    })
}
