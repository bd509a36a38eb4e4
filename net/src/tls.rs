//! TLS configuration: one crypto provider (ring), pinned fingerprints.

use lifeline_proto::ALPN;
use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
};
use sha2::{Digest, Sha256};
use std::{
    fmt,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The name clients put in SNI; the certificate is pinned, not name-checked.
pub const SERVER_NAME: &str = "lifeline-relay";

/// How long a silent connection stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a client sends QUIC keep-alives on an otherwise idle connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The one crypto provider Lifeline uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide default provider. Idempotent; call at
/// the start of every binary so nothing can pick another provider.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A SHA-256 certificate fingerprint, written `sha256:<64 hex digits>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

/// A fingerprint string that cannot be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("fingerprint must look like sha256:<64 hex digits>, got {0:?}")]
pub struct FingerprintError(String);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FingerprintError(s.chars().take(80).collect());
        let hex_part = s.trim().strip_prefix("sha256:").ok_or_else(err)?;
        let cleaned: String = hex_part.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(cleaned.to_ascii_lowercase()).map_err(|_| err())?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| err())?;
        Ok(Self(arr))
    }
}

/// A certificate verifier that accepts exactly one certificate, by
/// fingerprint, and remembers what it was shown so a mismatch can be
/// reported with both values.
pub struct PinnedVerifier {
    expected: Fingerprint,
    seen: Mutex<Option<Fingerprint>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for PinnedVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedVerifier")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl PinnedVerifier {
    /// A verifier pinned to `expected`.
    pub fn new(expected: Fingerprint) -> Arc<Self> {
        Arc::new(Self {
            expected,
            seen: Mutex::new(None),
            provider: provider(),
        })
    }

    /// The fingerprint of the last certificate presented, if any.
    pub fn seen(&self) -> Option<Fingerprint> {
        self.seen.lock().ok().and_then(|g| g.clone())
    }

    /// The pinned fingerprint.
    pub fn expected(&self) -> &Fingerprint {
        &self.expected
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity.as_ref());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(got.clone());
        }
        if got == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// TLS or QUIC configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("QUIC crypto configuration: {0}")]
    Quic(String),
}

fn transport(keep_alive: Option<Duration>) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    // Both are well inside quinn's VarInt range.
    if let Ok(idle) = quinn::IdleTimeout::try_from(IDLE_TIMEOUT) {
        t.max_idle_timeout(Some(idle));
    }
    t.keep_alive_interval(keep_alive);
    t.max_concurrent_bidi_streams(256u32.into());
    t.max_concurrent_uni_streams(64u32.into());
    // Screen frames are bursty; give each stream and the connection room for
    // a few full 1080p frames so the pacer, not flow control, sets the rate.
    t.stream_receive_window((8u32 * 1024 * 1024).into());
    t.receive_window((32u32 * 1024 * 1024).into());
    t.send_window(32 * 1024 * 1024);
    // Path MTU discovery may grow datagrams past Ethernet's 1452 bytes where
    // the path carries them (loopback, jumbo-frame LANs): a 1080p video
    // frame then costs hundreds of datagrams instead of thousands. Where the
    // path does not, the probes are lost and the size stays where it was.
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(MAX_UDP_PAYLOAD);
    t.mtu_discovery_config(Some(mtu));
    // quinn batches up to ten datagrams into one segmentation-offload send;
    // ten grown datagrams exceed the kernel's 64 KiB per send, and such a
    // send fails silently (every datagram of it lost). One datagram per
    // send is what the grown size needs; on a 1452-byte path it costs a few
    // thousand more sends a second at 100 Mbit/s.
    t.enable_segmentation_offload(false);
    // quinn sends a packet only while a whole datagram of the current size
    // fits in the congestion window, closes included. With the default
    // window of 14,720 bytes an MTU probe in flight right after the
    // handshake left no room, and a connection the relay closed then never
    // told its peer why (the peer saw a stateless reset instead). The
    // window starts with room for a probe and a datagram on top of the
    // usual initial window; slow start takes it from there.
    let mut cubic = quinn::congestion::CubicConfig::default();
    cubic.initial_window(14_720 + 2 * u64::from(MAX_UDP_PAYLOAD));
    t.congestion_controller_factory(Arc::new(cubic));
    t
}

/// Largest UDP payload an endpoint accepts and MTU discovery may try.
/// Loopback carries 65,488 (an IPv6 datagram filling its 65,536-byte MTU),
/// but quinn paces and budgets every send as a datagram of the current size
/// and refills its pacer to ten of them: at 64 KiB the benchmark's drag
/// frames (1.3 KB) arrived with a latency p50 of 13 ms instead of 8. 16 KiB
/// keeps most of the gain for large frames (a 3.5 MB frame in about 240
/// datagrams instead of 2,500) at the latency of 1,452-byte ones.
pub const MAX_UDP_PAYLOAD: u16 = 16_384;

/// The relay's QUIC server configuration.
///
/// # Errors
/// A certificate or key rustls does not accept.
pub fn server_config(
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> Result<quinn::ServerConfig, ConfigError> {
    let key = PrivateKeyDer::try_from(key_der).map_err(|e| ConfigError::Quic(e.to_string()))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert_der)], key)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| ConfigError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport(None)));
    Ok(config)
}

/// A client configuration pinned to `expected`; the verifier is returned so
/// the caller can report what it saw on a mismatch.
///
/// # Errors
/// Only if rustls rejects the protocol setup, which would be a bug.
pub fn client_config(
    expected: Fingerprint,
) -> Result<(quinn::ClientConfig, Arc<PinnedVerifier>), ConfigError> {
    let verifier = PinnedVerifier::new(expected);
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| ConfigError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport(Some(KEEP_ALIVE))));
    Ok((config, verifier))
}

/// An endpoint config whose stateless-reset key is derived from `secret`.
///
/// The relay keeps the secret in its data dir, so after a restart its
/// stateless resets are still recognised by clients of the previous run and
/// they reconnect at once instead of waiting for their idle timeout.
pub fn endpoint_config(secret: &[u8]) -> quinn::EndpointConfig {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    large_datagrams(quinn::EndpointConfig::new(Arc::new(key)))
}

/// A client endpoint config: a random stateless-reset key, and datagrams
/// up to [`MAX_UDP_PAYLOAD`] accepted.
pub fn client_endpoint_config() -> quinn::EndpointConfig {
    large_datagrams(quinn::EndpointConfig::default())
}

/// Accepts datagrams up to [`MAX_UDP_PAYLOAD`] (sent as a transport
/// parameter, so the peer's MTU discovery may go that far).
fn large_datagrams(mut config: quinn::EndpointConfig) -> quinn::EndpointConfig {
    // In the range quinn accepts (1200..=65527), so this cannot fail.
    let _ = config.max_udp_payload_size(MAX_UDP_PAYLOAD);
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_roundtrips_through_text() {
        let fp = Fingerprint::of(b"certificate bytes");
        let text = fp.to_string();
        assert!(text.starts_with("sha256:"));
        assert_eq!(text.len(), 7 + 64);
        assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(
            text.to_uppercase()
                .replace("SHA256", "sha256")
                .parse::<Fingerprint>()
                .unwrap(),
            fp
        );
    }

    #[test]
    fn malformed_fingerprints_are_refused() {
        for bad in ["", "sha256:", "md5:abcd", "sha256:zz", "sha256:abcd"] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }
}
