//! An agent that reports permission changes the user never made: a change
//! to what the session already has is ignored, and past 100 real changes in
//! one session (each one a click of the user's) the agent's connection is
//! closed as misbehaving. Before, every message was kept in the session's
//! log and audited, without end. The relay keeps serving everyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_net::{read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, ConsoleReply, ConsoleRequest, Decision, MAX_FRAME_LEN, Permission, RelayToAgent,
    SessionPurpose,
};
use lifeline_relay::hub::MAX_PERMISSION_CHANGES;
use lifeline_tests::stage::{Stage, agent_hello};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_flooding_permission_changes_closes_its_own_connection() {
    let mut stage = Stage::start().await.unwrap();
    let cfg = stage.enroll("pc", stage.addr).await.unwrap();
    let (mut agent, _) = agent_hello(
        &stage.addr.to_string(),
        &stage.fingerprint,
        cfg.machine_id.clone(),
        cfg.credential.clone(),
        "flooding agent",
    )
    .await
    .unwrap();
    stage
        .wait_online(&cfg.machine_id, Duration::from_secs(10))
        .await
        .unwrap();

    let mut console = stage.admin_via(stage.addr).await.unwrap();
    let machine = cfg.machine_id.clone();
    let opening = tokio::spawn(async move {
        let reply = console
            .request(ConsoleRequest::OpenSession {
                machine,
                purpose: SessionPurpose::Screen,
                permission: Permission::Control,
                ticket: None,
            })
            .await
            .unwrap();
        (console, reply)
    });
    let offer = loop {
        match read_msg::<RelayToAgent>(&mut agent.recv, MAX_FRAME_LEN).await {
            Ok(Some(RelayToAgent::SessionOffer(offer))) => break offer,
            Ok(Some(_)) => {}
            other => panic!("no offer: {other:?}"),
        }
    };
    let session = offer.session;
    let answer = AgentToRelay::SessionAnswer {
        session,
        decision: Decision::Accept,
    };
    write_msg(&mut agent.send, &answer, MAX_FRAME_LEN)
        .await
        .unwrap();
    let (_console, reply) = opening.await.unwrap();
    assert!(
        matches!(reply, ConsoleReply::SessionOpened { .. }),
        "{reply:?}"
    );

    // Ten "changes" to what the session already has, then real ones, far
    // more than a user clicks.
    let changes =
        (0..10)
            .map(|_| Permission::Control)
            .chain((0..MAX_PERMISSION_CHANGES + 100).map(|i| {
                if i % 2 == 0 {
                    Permission::View
                } else {
                    Permission::Control
                }
            }));
    for permission in changes {
        let msg = AgentToRelay::PermissionChanged {
            session,
            permission,
        };
        if write_msg(&mut agent.send, &msg, MAX_FRAME_LEN)
            .await
            .is_err()
        {
            break;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(10), agent.conn.closed())
        .await
        .expect("the relay kept the flooding agent");
    let why = closed.to_string();
    assert!(why.contains("permission changes"), "{why}");

    // The relay serves the admin still; the audit holds the 100 changes
    // and none of the ten that changed nothing.
    let rows = stage.audit_of("user").await.unwrap();
    let changes: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "session-permission")
        .collect();
    assert_eq!(changes.len(), MAX_PERMISSION_CHANGES);
    assert!(changes[0].details.ends_with("now View"), "{:?}", changes[0]);
}
