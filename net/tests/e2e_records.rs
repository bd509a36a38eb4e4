//! End-to-end encrypted streams over real QUIC on 127.0.0.1: what a record
//! costs on the wire, and a message spread over several records surviving
//! a reader that is cancelled between them (`select!` in the chat and
//! input loops does that).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_net::e2e::{self, SecureRecv, SecureSend};
use lifeline_net::{Fingerprint, tls};
use std::time::Duration;

/// Both ends of one encrypted stream, and what keeps it open.
struct Pair {
    console: (SecureSend, SecureRecv),
    agent: (SecureSend, SecureRecv),
    _endpoints: (quinn::Endpoint, quinn::Endpoint),
    _connections: (quinn::Connection, quinn::Connection),
}

async fn pair() -> Pair {
    tls::install_provider();
    let ck = rcgen::generate_simple_self_signed(vec![tls::SERVER_NAME.to_string()]).unwrap();
    let cert = ck.cert.der().to_vec();
    let fingerprint = Fingerprint::of(&cert);
    let server = tls::server_config(cert, ck.signing_key.serialize_der()).unwrap();
    let server_ep = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server_ep.local_addr().unwrap();
    let agent_keys = e2e::generate_keypair().unwrap();
    let console_keys = e2e::generate_keypair().unwrap();
    let accept = {
        let ep = server_ep.clone();
        let (private, remote) = (agent_keys.private.clone(), console_keys.public.clone());
        tokio::spawn(async move {
            let conn = ep.accept().await.unwrap().await.unwrap();
            let (send, recv) = conn.accept_bi().await.unwrap();
            let halves = e2e::respond(send, recv, &private, &remote, b"test")
                .await
                .unwrap();
            (halves, conn)
        })
    };
    let (client_ep, conn) = lifeline_net::connect(&addr.to_string(), &fingerprint)
        .await
        .unwrap();
    let (send, recv) = conn.open_bi().await.unwrap();
    let console = e2e::initiate(
        send,
        recv,
        &console_keys.private,
        &agent_keys.public,
        b"test",
    )
    .await
    .unwrap();
    let (agent, agent_conn) = tokio::time::timeout(Duration::from_secs(10), accept)
        .await
        .unwrap()
        .unwrap();
    Pair {
        console,
        agent,
        _endpoints: (server_ep, client_ep),
        _connections: (conn, agent_conn),
    }
}

#[tokio::test]
async fn a_record_costs_a_two_byte_length_and_a_sixteen_byte_tag() {
    let mut p = pair().await;
    let (send, _) = &mut p.agent;
    let (_, recv) = &mut p.console;
    send.write_all(&[7u8; 10]).await.unwrap();
    assert_eq!(recv.read_record().await.unwrap().unwrap(), vec![7u8; 10]);
    assert_eq!(recv.wire_bytes(), 2 + 10 + 16);
    // 70,000 bytes: a full record of 65,519 plaintext bytes, then the rest.
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    send.write_all(&big).await.unwrap();
    let first = recv.read_record().await.unwrap().unwrap();
    let second = recv.read_record().await.unwrap().unwrap();
    assert_eq!((first.len(), second.len()), (65_519, 4_481));
    assert_eq!([first, second].concat(), big);
    assert_eq!(recv.wire_bytes(), 28 + (2 + 65_535) + (2 + 4_481 + 16));
}

#[tokio::test]
async fn a_small_message_costs_one_byte_of_length_and_a_bad_length_is_named() {
    let mut p = pair().await;
    let (send, _) = &mut p.agent;
    let (_, recv) = &mut p.console;
    // 31 bytes of postcard (a length byte and 30 bytes): one byte of
    // message length, then the record's length and tag.
    let message = vec![9u8; 30];
    send.write_msg(&message, 1024).await.unwrap();
    assert_eq!(recv.read_msg::<Vec<u8>>(1024).await.unwrap(), Some(message));
    assert_eq!(recv.wire_bytes(), 2 + (1 + 31) + 16);
    // A length that never ends, and a length over what the reader takes.
    send.write_all(&[0x80; 5]).await.unwrap();
    let err = recv.read_msg::<Vec<u8>>(1024).await.unwrap_err();
    assert!(
        err.to_string().contains("not a varint of at most 5 bytes"),
        "{err}"
    );
    let mut q = pair().await;
    let (send, _) = &mut q.agent;
    let (_, recv) = &mut q.console;
    send.write_all(&[0xac, 0x02]).await.unwrap();
    let err = recv.read_msg::<Vec<u8>>(299).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("300 bytes exceeds the maximum of 299"),
        "{err}"
    );
}

#[tokio::test]
async fn a_message_over_several_records_survives_a_reader_cancelled_between_them() {
    let mut p = pair().await;
    let (mut send, _) = p.agent;
    let (_, recv) = &mut p.console;
    let message: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    let bytes = lifeline_proto::encode_compact_message(&message, 1 << 20).unwrap();
    // Two records, a pause the reader gives up in several times, then the
    // rest of the message.
    let writer = tokio::spawn(async move {
        send.write_all(&bytes[..100_000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        send.write_all(&bytes[100_000..]).await.unwrap();
        send
    });
    let mut cancelled = 0;
    let got = loop {
        assert!(cancelled < 200, "no message after {cancelled} tries");
        tokio::select! {
            msg = recv.read_msg::<Vec<u8>>(1 << 20) => break msg.unwrap().unwrap(),
            () = tokio::time::sleep(Duration::from_millis(20)) => cancelled += 1,
        }
    };
    assert!(cancelled >= 3, "the reader was cancelled {cancelled} times");
    assert!(got == message, "the message came back different");
    let _send = writer.await.unwrap();
}
