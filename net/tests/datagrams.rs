//! Datagram size. On loopback the relay's and a client's endpoints let MTU
//! discovery grow QUIC datagrams past Ethernet's 1452 bytes, so a screen
//! frame of megabytes costs hundreds of datagrams instead of thousands.
//! On a path that carries only Ethernet-sized datagrams (a proxy here drops
//! anything larger, as a router does with the don't-fragment bit set) the
//! size stays at Ethernet's, and a path that shrinks mid-session (a VPN
//! comes up) falls back; either way every byte arrives unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_net::{Fingerprint, tls};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Largest UDP payload of a 1500-byte Ethernet frame over IPv6 (quinn's
/// default ceiling for MTU discovery).
const ETHERNET_PAYLOAD: u16 = 1452;

/// Largest UDP payload of a 1500-byte Ethernet frame over IPv4 (the proxy
/// below speaks IPv4).
const ETHERNET_PAYLOAD_V4: usize = 1472;

/// Where MTU discovery's search stops at the lowest on an Ethernet-sized
/// path: it ends once the untried range is narrower than its 20-byte step.
const SETTLED: u16 = ETHERNET_PAYLOAD_V4 as u16 - 20;

/// 4 MB of varied bytes (a counter's bytes, so any reordering shows).
fn payload() -> Vec<u8> {
    (0u32..1 << 20).flat_map(u32::to_le_bytes).collect()
}

/// What the receiver read, with its connection and endpoint (kept alive
/// until the test has read their statistics).
type Received = (Vec<u8>, quinn::Connection, quinn::Endpoint);
type Receiving = tokio::task::JoinHandle<Received>;

/// A relay-like endpoint on loopback that accepts one connection and reads
/// one unidirectional stream to its end.
fn receiver() -> (SocketAddr, Fingerprint, Receiving) {
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
    let task = tokio::spawn(async move {
        let conn = server_ep.accept().await.unwrap().await.unwrap();
        let mut recv = conn.accept_uni().await.unwrap();
        let got = recv.read_to_end(8 << 20).await.unwrap();
        (got, conn, server_ep)
    });
    (addr, fingerprint, task)
}

/// Sends `data` on a new stream and waits (bounded) for the receiver.
async fn send_and_receive(conn: &quinn::Connection, data: &[u8], receiver: Receiving) -> Received {
    let mut send = conn.open_uni().await.unwrap();
    send.write_all(data).await.unwrap();
    send.finish().unwrap();
    tokio::time::timeout(Duration::from_secs(30), receiver)
        .await
        .expect("the transfer did not finish in 30 s")
        .unwrap()
}

/// Waits (bounded) until `done` holds for the connection.
async fn wait_for(conn: &quinn::Connection, secs: u64, done: impl Fn(&quinn::Connection) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(conn) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn datagrams_grow_past_ethernet_size_on_loopback() {
    let (addr, fingerprint, receiver) = receiver();
    let (_client_ep, conn) = lifeline_net::connect(&addr.to_string(), &fingerprint)
        .await
        .unwrap();
    // Discovery probes once the handshake is done.
    wait_for(&conn, 10, |c| c.stats().path.current_mtu > ETHERNET_PAYLOAD).await;
    let data = payload();
    let (got, server_conn, _server_ep) = send_and_receive(&conn, &data, receiver).await;
    assert!(got == data, "the 4 MB arrived changed");
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

/// A UDP forwarder between one client and `server` on loopback that drops
/// every datagram, either way, longer than its current limit.
struct Path {
    addr: SocketAddr,
    limit: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Path {
    async fn start(server: SocketAddr, limit: usize) -> Path {
        let open = || {
            let s = lifeline_net::udp::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            s.set_nonblocking(true).unwrap();
            UdpSocket::from_std(s).unwrap()
        };
        let (front, back) = (open(), open());
        back.connect(server).await.unwrap();
        let addr = front.local_addr().unwrap();
        let limit = Arc::new(AtomicUsize::new(limit));
        let dropped = Arc::new(AtomicU64::new(0));
        let (lim, drops) = (limit.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            let (mut up, mut down) = (vec![0u8; 65_536], vec![0u8; 65_536]);
            let mut client: Option<SocketAddr> = None;
            loop {
                tokio::select! {
                    Ok((n, from)) = front.recv_from(&mut up) => {
                        client = Some(from);
                        if n > lim.load(Ordering::Relaxed) {
                            drops.fetch_add(1, Ordering::Relaxed);
                        } else {
                            let _ = back.send(&up[..n]).await;
                        }
                    }
                    Ok(n) = back.recv(&mut down) => {
                        if n > lim.load(Ordering::Relaxed) {
                            drops.fetch_add(1, Ordering::Relaxed);
                        } else if let Some(to) = client {
                            let _ = front.send_to(&down[..n], to).await;
                        }
                    }
                }
            }
        });
        Path {
            addr,
            limit,
            dropped,
            task,
        }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn an_ethernet_sized_path_keeps_datagrams_at_its_size_and_loses_no_bytes() {
    let (server, fingerprint, receiver) = receiver();
    let path = Path::start(server, ETHERNET_PAYLOAD_V4).await;
    let (_client_ep, conn) = lifeline_net::connect(&path.addr.to_string(), &fingerprint)
        .await
        .unwrap();
    // Discovery searches between 1200 and the ceiling; probes above the
    // path's size are dropped (three times each), and it settles just
    // under that size once it has stopped changing.
    let start = Instant::now();
    let (mut last, mut since) = (0, Instant::now());
    while start.elapsed() < Duration::from_secs(20) {
        let mtu = conn.stats().path.current_mtu;
        if mtu != last {
            (last, since) = (mtu, Instant::now());
        } else if mtu >= SETTLED && since.elapsed() > Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "settled at {last} bytes after {:?} and {} dropped probes",
        since.duration_since(start),
        path.dropped.load(Ordering::Relaxed)
    );
    let data = payload();
    let (got, server_conn, _server_ep) = send_and_receive(&conn, &data, receiver).await;
    assert!(got == data, "the 4 MB arrived changed");
    assert!(
        path.dropped.load(Ordering::Relaxed) > 0,
        "discovery never probed past the path's size"
    );
    for (who, mtu) in [
        ("client", conn.stats().path.current_mtu),
        ("server", server_conn.stats().path.current_mtu),
    ] {
        assert!(
            usize::from(mtu) <= ETHERNET_PAYLOAD_V4,
            "{who} datagrams of {mtu} bytes on a path that carries {ETHERNET_PAYLOAD_V4}"
        );
        assert!(
            mtu >= SETTLED,
            "{who} datagrams stuck at {mtu} bytes on a path that carries {ETHERNET_PAYLOAD_V4}"
        );
    }
}

#[tokio::test]
async fn a_path_that_shrinks_mid_session_falls_back_and_loses_no_bytes() {
    let (server, fingerprint, receiver) = receiver();
    let path = Path::start(server, usize::from(tls::MAX_UDP_PAYLOAD)).await;
    let (_client_ep, conn) = lifeline_net::connect(&path.addr.to_string(), &fingerprint)
        .await
        .unwrap();
    wait_for(&conn, 10, |c| {
        c.stats().path.current_mtu > 8 * ETHERNET_PAYLOAD
    })
    .await;
    let grown = conn.stats().path.current_mtu;
    assert!(
        grown > 8 * ETHERNET_PAYLOAD,
        "datagrams never grew: {grown}"
    );
    // The path now carries only Ethernet-sized datagrams.
    path.limit.store(ETHERNET_PAYLOAD_V4, Ordering::Relaxed);
    let data = payload();
    let (got, _server_conn, _server_ep) = send_and_receive(&conn, &data, receiver).await;
    assert!(got == data, "the 4 MB arrived changed");
    // The lost large datagrams read as a black hole: back to 1200 bytes.
    let stats = conn.stats().path;
    assert!(
        usize::from(stats.current_mtu) <= ETHERNET_PAYLOAD_V4,
        "client datagrams still {} bytes after the path shrank",
        stats.current_mtu
    );
    assert!(stats.black_holes_detected >= 1, "{stats:?}");
    assert!(path.dropped.load(Ordering::Relaxed) > 0);
}
