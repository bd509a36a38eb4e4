//! Datagram size on loopback: the relay's and a client's endpoints let MTU
//! discovery grow QUIC datagrams past Ethernet's 1452 bytes where the path
//! carries them, so a screen frame of megabytes costs hundreds of
//! datagrams instead of thousands; the bytes arrive unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_net::{Fingerprint, tls};
use std::time::{Duration, Instant};

/// Largest UDP payload of a 1500-byte Ethernet frame over IPv6 (quinn's
/// default ceiling for MTU discovery; IPv4 allows 1472).
const ETHERNET_PAYLOAD: u16 = 1452;

#[tokio::test]
async fn datagrams_grow_past_ethernet_size_on_loopback() {
    tls::install_provider();
    let ck = rcgen::generate_simple_self_signed(vec![tls::SERVER_NAME.to_string()]).unwrap();
    let cert = ck.cert.der().to_vec();
    let fingerprint = Fingerprint::of(&cert);
    let server = tls::server_config(cert, ck.signing_key.serialize_der()).unwrap();
    let socket = lifeline_net::udp::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_ep = quinn::Endpoint::new(
        tls::endpoint_config(b"a reset secret for this test only"),
        Some(server),
        socket,
        quinn::default_runtime().unwrap(),
    )
    .unwrap();
    let addr = server_ep.local_addr().unwrap();
    // 4 MB of varied bytes (a counter's bytes, so any reordering shows).
    let payload: Vec<u8> = (0u32..1 << 20).flat_map(u32::to_le_bytes).collect();
    let expected = payload.clone();
    let receiver = tokio::spawn(async move {
        let conn = server_ep.accept().await.unwrap().await.unwrap();
        let mut recv = conn.accept_uni().await.unwrap();
        let got = recv.read_to_end(8 << 20).await.unwrap();
        (got, conn, server_ep)
    });
    let (_client_ep, conn) = lifeline_net::connect(&addr.to_string(), &fingerprint)
        .await
        .unwrap();
    // Discovery probes once the handshake is done; wait (bounded) for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.stats().path.current_mtu <= ETHERNET_PAYLOAD && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut send = conn.open_uni().await.unwrap();
    send.write_all(&payload).await.unwrap();
    send.finish().unwrap();
    let (got, server_conn, _server_ep) = tokio::time::timeout(Duration::from_secs(20), receiver)
        .await
        .unwrap()
        .unwrap();
    assert!(got == expected, "the 4 MB arrived changed");
    let mtu = conn.stats().path.current_mtu;
    assert!(
        mtu > 8 * ETHERNET_PAYLOAD,
        "client datagrams stayed at {mtu} bytes on loopback"
    );
    assert!(
        mtu <= tls::MAX_UDP_PAYLOAD,
        "client datagrams of {mtu} bytes exceed the configured ceiling"
    );
    // The whole transfer took far fewer datagrams than 1452-byte ones would.
    let sent = conn.stats().udp_tx.datagrams;
    assert!(
        sent < 4 * 1024 * 1024 / u64::from(ETHERNET_PAYLOAD) / 4,
        "{sent} datagrams for 4 MB"
    );
    assert!(server_conn.stats().path.current_mtu > ETHERNET_PAYLOAD);
}
