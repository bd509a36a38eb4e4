//! Only a screen session, which the user agrees to at the prompt (or which
//! the machine's policy leaves unattended, under the indicator), carries
//! the screen and input. A ping needs no prompt and shows nothing, a chat
//! needs no prompt: before, a console could open either and then ask for the
//! screen and input streams, and the agent served them without asking the
//! user or showing who watched. The relay refuses such a stream, and so
//! does the agent when a relay passes it on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::client::{Client, ClientError};
use lifeline_agent::{
    capture::{Capture, synthetic::SyntheticCapture},
    inventory::InventoryConfig,
    runner::{self, RunOptions},
};
use lifeline_proto::{
    Channel, ConsoleReply, ConsoleRequest, Permission, SessionPurpose, screen::synth::Workload,
};
use lifeline_tests::stage::Stage;
use std::{sync::atomic::Ordering, time::Duration};

async fn open(
    c: &mut Client,
    machine: &str,
    purpose: SessionPurpose,
    permission: Permission,
) -> Result<u64, ClientError> {
    match c
        .request(ConsoleRequest::OpenSession {
            machine: machine.into(),
            purpose,
            permission,
            ticket: None,
        })
        .await?
    {
        ConsoleReply::SessionOpened { session, .. } => Ok(session),
        other => panic!("not opened: {other:?}"),
    }
}

/// Opens a stream of `channel` in `session` and says why it failed.
async fn refusal(c: &mut Client, session: u64, channel: Channel) -> String {
    match c.open_stream(session, channel).await {
        Ok(_) => panic!("a {channel:?} stream opened in session {session}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_screen_session_carries_the_screen_and_input() {
    let mut stage = Stage::start().await.unwrap();
    let config = stage.enroll("pc", stage.addr).await.unwrap();
    // A screen the agent would serve at once, and a user who is never
    // asked (no display here): whatever streams it served, it served
    // without the user's say.
    let opts = RunOptions {
        inventory: InventoryConfig {
            root: Some(stage.agent_dir("pc")),
        },
        capture: std::sync::Arc::new(|| {
            Ok(Box::new(SyntheticCapture::new(Workload::Typing)) as Box<dyn Capture>)
        }),
        ..RunOptions::default()
    };
    let run_cfg = config.clone();
    let agent = tokio::spawn(async move {
        let _ = runner::run(&run_cfg, &opts).await;
    });
    let pc = config.machine_id.clone();
    stage
        .wait_online(&pc, Duration::from_secs(10))
        .await
        .unwrap();

    // Control is asked for in a screen session, never in a chat or a ping.
    for purpose in [SessionPurpose::Chat, SessionPurpose::Ping] {
        let e = open(&mut stage.admin, &pc, purpose, Permission::Control)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("control needs a screen session"), "{e}");
    }

    // The relay refuses the screen, input and chat in a ping (a chat
    // session needs a display for its indicator; `SessionPurpose::carries`
    // is the same rule for it, tested in lifeline-proto).
    let ping = open(
        &mut stage.admin,
        &pc,
        SessionPurpose::Ping,
        Permission::View,
    )
    .await
    .unwrap();
    for channel in [Channel::Screen, Channel::Input, Channel::Chat] {
        let e = refusal(&mut stage.admin, ping, channel).await;
        assert!(e.contains("stream refused"), "{channel:?}: {e}");
        assert!(e.contains("need a screen session"), "{channel:?}: {e}");
    }
    // What the session is for still works.
    let (mut send, mut recv) = stage.admin.open_stream(ping, Channel::Ping).await.unwrap();
    send.write_all(b"probe").await.unwrap();
    assert_eq!(recv.read_record().await.unwrap().unwrap(), b"probe");

    // A relay that splices them anyway: the agent refuses them itself.
    stage
        .relay
        .tamper
        .pass_any_channel
        .store(true, Ordering::Relaxed);
    for channel in [Channel::Screen, Channel::Input] {
        let e = refusal(&mut stage.admin, ping, channel).await;
        assert!(e.contains("stream refused"), "{channel:?}: {e}");
    }
    agent.abort();
}
