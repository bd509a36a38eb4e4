//! A peer that sends garbage loses its own connection; the relay keeps
//! serving everyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use lifeline_net::{Fingerprint, framed::read_frame, tls};
use lifeline_proto::{
    CloseCode, ConsoleRequest, Credential, ErrorCode, Hello, HelloReply, MAX_FRAME_LEN, PeerKind,
    Request, Secret,
};
use std::time::Duration;
use util::World;

async fn raw_connection(w: &World) -> (quinn::Endpoint, quinn::Connection) {
    tls::install_provider();
    let fp: Fingerprint = w.fingerprint.parse().unwrap();
    lifeline_net::connect(&w.addr(), &fp)
        .await
        .expect("connect")
}

/// Sends `bytes` on a fresh control stream and returns the close code the
/// relay gave the connection.
async fn send_and_get_closed(w: &World, bytes: &[u8]) -> u64 {
    let (_ep, conn) = raw_connection(w).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(15), conn.closed())
        .await
        .expect("relay should close a misbehaving connection");
    match err {
        quinn::ConnectionError::ApplicationClosed(c) => c.error_code.into_inner(),
        other => panic!("expected an application close, got {other}"),
    }
}

fn hello(version: u16) -> Hello {
    Hello {
        protocol_version: version,
        supported_versions: vec![version],
        kind: PeerKind::Console,
        credential: Credential::Password {
            user: "alice".into(),
            password: Secret::new("whatever1"),
            totp: None,
            e2e_key: vec![7; 32],
        },
        software: "raw test client".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_offending_connection() {
    let mut w = World::new();
    w.add_user("alice", "admin", "admin-password-1");
    w.start_relay();
    w.login("alice", "admin-password-1");

    let protocol = u64::from(CloseCode::Protocol.code());
    // Declared length far over the maximum.
    assert_eq!(
        send_and_get_closed(&w, &u32::MAX.to_be_bytes()).await,
        protocol
    );
    // A plausible length followed by bytes that are no message.
    let mut junk = 9u32.to_be_bytes().to_vec();
    junk.extend_from_slice(&[0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7]);
    assert_eq!(send_and_get_closed(&w, &junk).await, protocol);
    // A valid message, but out of order: a request before the hello.
    let req = lifeline_proto::encode_message(
        &Request {
            id: 1,
            body: ConsoleRequest::ListMachines,
        },
        MAX_FRAME_LEN,
    )
    .unwrap();
    assert_eq!(send_and_get_closed(&w, &req).await, protocol);
    // A zero-length frame.
    assert_eq!(send_and_get_closed(&w, &0u32.to_be_bytes()).await, protocol);

    // Meanwhile everyone else is served.
    let out = w.console("alice", &["machines", "--json"], None);
    assert!(out.ok, "relay stopped serving: {}", out.stderr);
    assert!(
        w.relay
            .as_mut()
            .unwrap()
            .child
            .try_wait()
            .unwrap()
            .is_none(),
        "relay died"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_protocol_version_names_both_sides() {
    let mut w = World::new();
    w.start_relay();
    let (_ep, conn) = raw_connection(&w).await;
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let bytes = lifeline_proto::encode_message(&hello(9), MAX_FRAME_LEN).unwrap();
    send.write_all(&bytes).await.unwrap();
    let payload = read_frame(&mut recv, MAX_FRAME_LEN).await.unwrap().unwrap();
    match lifeline_proto::decode_message::<HelloReply>(&payload).unwrap() {
        HelloReply::Refused(r) => {
            assert_eq!(r.code, ErrorCode::UnsupportedVersion);
            assert_eq!(r.supported_versions, vec![1, 2, 3, 4, 5]);
            assert!(
                r.message.contains("relay speaks [1, 2, 3, 4, 5]"),
                "{}",
                r.message
            );
            assert!(r.message.contains("client speaks [9]"), "{}", r.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
