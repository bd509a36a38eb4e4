//! Property tests: every message survives encode → decode, and arbitrary or
//! truncated bytes never panic and never allocate past the frame maximum.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::*;
use proptest::prelude::*;

fn secret() -> impl Strategy<Value = Secret> {
    ".{0,40}".prop_map(Secret::new)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Admin),
        Just(Role::Technician),
        Just(Role::Auditor)
    ]
}

fn credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        (
            ".{0,20}",
            secret(),
            proptest::option::of(secret()),
            proptest::collection::vec(any::<u8>(), 32)
        )
            .prop_map(|(user, password, totp, e2e_key)| {
                Credential::Password {
                    user,
                    password,
                    totp,
                    e2e_key,
                }
            }),
        secret().prop_map(Credential::SessionToken),
        (".{0,20}", secret())
            .prop_map(|(machine_id, secret)| Credential::Machine { machine_id, secret }),
        secret().prop_map(Credential::EnrollToken),
    ]
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        any::<u16>(),
        proptest::collection::vec(any::<u16>(), 0..4),
        prop_oneof![Just(PeerKind::Agent), Just(PeerKind::Console)],
        credential(),
        ".{0,20}",
    )
        .prop_map(
            |(protocol_version, supported_versions, kind, credential, software)| Hello {
                protocol_version,
                supported_versions,
                kind,
                credential,
                software,
            },
        )
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::ConsoleClosed),
        Just(EndReason::AgentClosed),
        Just(EndReason::UserStopped),
        ".{0,20}".prop_map(EndReason::Declined),
        Just(EndReason::Timeout),
        Just(EndReason::AgentDisconnected),
        Just(EndReason::ConsoleDisconnected),
        Just(EndReason::RelayShutdown),
        Just(EndReason::RelayCrashed),
    ]
}

fn machine_info() -> impl Strategy<Value = MachineInfo> {
    (".{0,20}", ".{0,20}", ".{0,8}", ".{0,8}").prop_map(|(hostname, os, arch, agent_version)| {
        MachineInfo {
            hostname,
            os,
            arch,
            agent_version,
        }
    })
}

fn agent_to_relay() -> impl Strategy<Value = AgentToRelay> {
    prop_oneof![
        (
            machine_info(),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(info, e2e_key)| AgentToRelay::Enroll { info, e2e_key }),
        machine_info().prop_map(AgentToRelay::Info),
        any::<u64>().prop_map(|seq| AgentToRelay::Heartbeat { seq }),
        (any::<u64>(), 0u8..4, ".{0,10}").prop_map(|(session, kind, reason)| {
            AgentToRelay::SessionAnswer {
                session,
                decision: match kind {
                    0 => Decision::Accept,
                    1 => Decision::AcceptViewOnly,
                    2 => Decision::NoAnswer,
                    _ => Decision::Decline { reason },
                },
            }
        }),
        (any::<u64>(), any::<bool>()).prop_map(|(session, view)| {
            AgentToRelay::PermissionChanged {
                session,
                permission: if view {
                    Permission::View
                } else {
                    Permission::Control
                },
            }
        }),
        (any::<u64>(), end_reason())
            .prop_map(|(session, reason)| AgentToRelay::EndSession { session, reason }),
    ]
}

fn relay_to_agent() -> impl Strategy<Value = RelayToAgent> {
    prop_oneof![
        (".{0,12}", secret()).prop_map(|(machine_id, credential)| RelayToAgent::Enrolled {
            machine_id,
            credential
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, server_time_us)| {
            RelayToAgent::HeartbeatAck {
                seq,
                server_time_us,
            }
        }),
        (
            any::<u64>(),
            ".{0,12}",
            role(),
            any::<bool>(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(session, technician, role, screen, ticket)| {
                RelayToAgent::SessionOffer(SessionOffer {
                    technician_key: technician.as_bytes().to_vec(),
                    session,
                    technician,
                    role,
                    purpose: if screen {
                        SessionPurpose::Screen
                    } else {
                        SessionPurpose::Ping
                    },
                    permission: if screen {
                        Permission::Control
                    } else {
                        Permission::View
                    },
                    technician_cert: ticket.map(|t| lifeline_proto::orgcert::TechCert {
                        user: "bob".into(),
                        key: vec![7; 32],
                        expires_unix: t,
                        org_key: vec![9; 32],
                        signature: vec![1; 64],
                    }),
                    ticket,
                    unattended: screen,
                    log_clipboard: !screen,
                })
            }),
        (any::<u64>(), end_reason())
            .prop_map(|(session, reason)| RelayToAgent::SessionClosed { session, reason }),
    ]
}

fn machine_cursor() -> impl Strategy<Value = MachineCursor> {
    (".{0,12}", "[a-z0-9-]{0,13}").prop_map(|(hostname, id)| MachineCursor { hostname, id })
}

fn machine_row() -> impl Strategy<Value = MachineRow> {
    (
        ".{0,12}",
        ".{0,12}",
        proptest::option::of(".{0,8}"),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        any::<u64>(),
    )
        .prop_map(
            |(id, hostname, group, online, last_seen_unix, enrolled_unix)| MachineRow {
                id,
                hostname,
                os: "Debian".into(),
                arch: "x86_64".into(),
                group,
                online,
                last_seen_unix,
                enrolled_unix,
                unattended: false,
                revoked: online && enrolled_unix % 2 == 0,
            },
        )
}

fn relay_to_console() -> impl Strategy<Value = RelayToConsole> {
    let reply = prop_oneof![
        (".{0,12}", role()).prop_map(|(user, role)| ConsoleReply::Whoami { user, role }),
        (secret(), any::<u64>(), proptest::option::of(".{0,8}")).prop_map(
            |(token, expires_unix, group)| ConsoleReply::EnrollToken {
                token,
                expires_unix,
                group
            }
        ),
        proptest::collection::vec(machine_row(), 0..5).prop_map(ConsoleReply::Machines),
        (
            proptest::collection::vec(machine_row(), 0..5),
            proptest::option::of(machine_cursor())
        )
            .prop_map(|(rows, next)| ConsoleReply::MachinesPage { rows, next }),
        (any::<u64>(), ".{0,8}", ".{0,8}", any::<bool>()).prop_map(
            |(session, machine_id, hostname, view)| ConsoleReply::SessionOpened {
                machine_key: hostname.as_bytes().to_vec(),
                session,
                machine_id,
                hostname,
                permission: if view {
                    Permission::View
                } else {
                    Permission::Control
                },
            }
        ),
        Just(ConsoleReply::Done),
    ];
    let failure = ".{0,20}".prop_map(|message| Failure {
        code: ErrorCode::Forbidden,
        message,
    });
    prop_oneof![
        (any::<u32>(), reply)
            .prop_map(|(id, r)| RelayToConsole::Response(Response { id, body: Ok(r) })),
        (any::<u32>(), failure)
            .prop_map(|(id, f)| RelayToConsole::Response(Response { id, body: Err(f) })),
        (any::<u64>(), end_reason()).prop_map(|(session, reason)| RelayToConsole::Event(
            ConsoleEvent::SessionEnded { session, reason }
        )),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let body = prop_oneof![
        Just(ConsoleRequest::Whoami),
        (
            proptest::option::of(".{0,8}"),
            any::<u64>(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(
                |(group, ttl_secs, max_uses)| ConsoleRequest::CreateEnrollToken {
                    group,
                    ttl_secs,
                    max_uses
                }
            ),
        Just(ConsoleRequest::ListMachines),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(machine_cursor())
        )
            .prop_map(|(stale_secs, after)| ConsoleRequest::MachinesPage { stale_secs, after }),
        (".{0,8}", proptest::option::of(any::<u64>())).prop_map(|(machine, ticket)| {
            ConsoleRequest::OpenSession {
                machine,
                purpose: SessionPurpose::Ping,
                permission: Permission::View,
                ticket,
            }
        }),
        any::<u64>().prop_map(|session| ConsoleRequest::CloseSession { session }),
        Just(ConsoleRequest::Logout),
        ".{0,20}".prop_map(|machine| ConsoleRequest::RevokeMachine { machine }),
        secret().prop_map(|token| ConsoleRequest::RevokeEnrollToken { token }),
        (".{0,12}", any::<u64>()).prop_map(|(user, expires_unix)| {
            ConsoleRequest::ApproveTechnician {
                cert: lifeline_proto::orgcert::TechCert {
                    user,
                    key: vec![3; 32],
                    expires_unix,
                    org_key: vec![4; 32],
                    signature: vec![5; 64],
                },
            }
        }),
    ];
    (any::<u32>(), body).prop_map(|(id, body)| Request { id, body })
}

fn roundtrip<T>(msg: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let framed = encode_message(msg, MAX_FRAME_LEN).unwrap();
    let mut d = FrameDecoder::new(MAX_FRAME_LEN);
    d.push(&framed);
    let payload = d.next_frame().unwrap().unwrap();
    assert_eq!(&decode_message::<T>(&payload).unwrap(), msg);
    assert_eq!(d.buffered(), 0);
}

proptest! {
    #[test]
    fn hello_roundtrips(m in hello()) { roundtrip(&m); }

    #[test]
    fn agent_messages_roundtrip(m in agent_to_relay()) { roundtrip(&m); }

    #[test]
    fn relay_to_agent_roundtrips(m in relay_to_agent()) { roundtrip(&m); }

    #[test]
    fn console_requests_roundtrip(m in request()) { roundtrip(&m); }

    #[test]
    fn relay_to_console_roundtrips(m in relay_to_console()) { roundtrip(&m); }

    #[test]
    fn stream_headers_roundtrip(session in any::<u64>(), c in 0u8..4) {
        let channel = [Channel::Ping, Channel::Screen, Channel::Input, Channel::Chat][c as usize];
        let h = StreamHeader { session, channel };
        let framed = encode_message(&h, MAX_HEADER_FRAME_LEN).unwrap();
        assert!(framed.len() <= MAX_HEADER_FRAME_LEN);
        roundtrip(&h);
    }

    /// Random bytes fed to every decoder: errors, never panics, and the frame
    /// decoder never holds more than one maximum frame's worth.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_message::<Hello>(&bytes);
        let _ = decode_message::<HelloReply>(&bytes);
        let _ = decode_message::<AgentToRelay>(&bytes);
        let _ = decode_message::<RelayToAgent>(&bytes);
        let _ = decode_message::<Request>(&bytes);
        let _ = decode_message::<RelayToConsole>(&bytes);
        let _ = decode_message::<StreamHeader>(&bytes);
        let _ = decode_message::<lifeline_proto::view::ViewerToAgent>(&bytes);
        let _ = decode_message::<lifeline_proto::view::AgentToViewer>(&bytes);
        let _ = decode_message::<lifeline_proto::input::InputMsg>(&bytes);
        let _ = decode_message::<lifeline_proto::input::InputReply>(&bytes);
        let _ = decode_message::<lifeline_proto::chat::ChatMsg>(&bytes);
        let mut d = FrameDecoder::new(256);
        d.push(&bytes);
        while let Ok(Some(frame)) = d.next_frame() {
            prop_assert!(frame.len() <= 256);
            let _ = decode_message::<Hello>(&frame);
        }
        let mut hs = handshake::ServerHandshake::new();
        let _ = hs.on_bytes(&bytes);
    }

    /// Every strict prefix of a valid frame is incomplete or an error.
    #[test]
    fn truncated_frames_never_decode(m in hello(), cut in 0usize..1000) {
        let framed = encode_message(&m, MAX_FRAME_LEN).unwrap();
        let cut = cut % framed.len();
        let mut d = FrameDecoder::new(MAX_FRAME_LEN);
        d.push(&framed[..cut]);
        prop_assert_eq!(d.next_frame(), Ok(None));
        prop_assert!(d.finish().is_err() || cut == 0);
        // A truncated payload (length prefix rewritten to match) must not
        // decode as the original.
        let payload = &framed[4..];
        if cut < payload.len() {
            prop_assert_ne!(decode_message::<Hello>(&payload[..cut]).ok(), Some(m));
        }
    }

    /// A declared length past the maximum is refused from the header alone.
    #[test]
    fn oversized_declared_length_is_refused(len in (MAX_FRAME_LEN as u32 + 1)..=u32::MAX) {
        let mut d = FrameDecoder::new(MAX_FRAME_LEN);
        d.push(&len.to_be_bytes());
        let refused = matches!(d.next_frame(), Err(FrameError::TooLarge { .. }));
        prop_assert!(refused);
    }
}
