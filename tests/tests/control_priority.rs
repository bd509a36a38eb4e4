//! The agent's control stream (heartbeats, consent answers, the user's
//! Stop) goes before screen frames on a link the screen fills. Behind the
//! frames, heartbeats waited as long as frames kept coming, and the relay
//! dropped the agent as silent after 30 s of exact video on a 2 Mbit/s
//! uplink, ending the session.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::viewer::stream::ViewEvent;
use lifeline_agent::{
    capture::{Capture, synthetic::SyntheticCapture},
    inventory::InventoryConfig,
    runner::{self, RunOptions},
};
use lifeline_proto::{ConsoleReply, ConsoleRequest, screen::synth::Workload};
use lifeline_tests::{
    bench_screen::ours::open_stream,
    lossy::{ETHERNET_PAYLOAD, Link, LossyProxy},
    stage::Stage,
};
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// When the relay last heard the machine, in unix seconds.
async fn last_seen(stage: &mut Stage, machine: &str) -> u64 {
    match stage.admin.request(ConsoleRequest::ListMachines).await {
        Ok(ConsoleReply::Machines(rows)) => {
            let row = rows.iter().find(|m| m.id == machine).expect("machine row");
            assert!(row.online, "machine offline: {row:?}");
            row.last_seen_unix.expect("last seen")
        }
        other => panic!("list machines: {other:?}"),
    }
}

#[test]
fn heartbeats_pass_a_link_full_of_exact_video() {
    runtime().block_on(async {
        let mut stage = Stage::start().await.unwrap();
        // 8 Mbit/s: an exact frame of the synthetic video (about 1.4 MB)
        // takes about 1.4 s, so frames are always waiting to go.
        let proxy = LossyProxy::start_link(
            stage.addr,
            Link {
                delay: Duration::from_millis(5),
                rate: Some(1_000_000),
                mtu: Some(ETHERNET_PAYLOAD),
                ..Link::default()
            },
        );
        let config = stage.enroll("video", proxy.addr).await.unwrap();
        let agent_dir = stage.agent_dir("video");
        let opts = RunOptions {
            heartbeat: Duration::from_millis(250),
            unattended: true,
            inventory: InventoryConfig {
                root: Some(agent_dir.clone()),
            },
            capture: std::sync::Arc::new(|| {
                Ok(Box::new(SyntheticCapture::new(Workload::Video)) as Box<dyn Capture>)
            }),
            ..RunOptions::default()
        };
        let run_cfg = config.clone();
        let agent = tokio::spawn(async move {
            let _ = runner::run(&run_cfg, &opts).await;
        });
        let machine = config.machine_id.clone();
        stage
            .wait_online(&machine, Duration::from_secs(10))
            .await
            .unwrap();
        let mut stream = open_stream(&mut stage, &machine, 60, false).await.unwrap();
        // Decode on, so that credits keep frames coming.
        let viewer = tokio::spawn(async move {
            let mut frames = 0u32;
            while let Ok(ev) = stream.next().await {
                frames += u32::from(matches!(ev, ViewEvent::Frame { .. }));
            }
            frames
        });
        let start = Instant::now();
        let first = last_seen(&mut stage, &machine).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let last = last_seen(&mut stage, &machine).await;
        let waited = start.elapsed().as_secs();
        assert!(!viewer.is_finished(), "the screen stream ended");
        // Heartbeats every 250 ms: the relay heard the agent within the
        // last second or two, not when the video started.
        assert!(
            last + 2 >= first + waited,
            "last heard at {first} and {last}, {waited} s apart"
        );
        viewer.abort();
        agent.abort();
        eprintln!(
            "heard the agent at {first} and {last} ({waited} s apart); proxy forwarded {} datagrams",
            proxy
                .forwarded
                .load(std::sync::atomic::Ordering::Relaxed)
        );
    });
}

/// A relay on a stage and an enrolled agent connected to it by hand (the
/// test speaks for the agent), once the relay counts it online.
async fn raw_agent() -> (
    Stage,
    lifeline_agent::config::AgentConfig,
    lifeline_net::Connected,
) {
    let mut stage = Stage::start().await.unwrap();
    let addr = stage.addr;
    let config = stage.enroll("raw", addr).await.unwrap();
    let (c, _) = lifeline_tests::stage::agent_hello(
        &stage.addr.to_string(),
        &stage.fingerprint,
        config.machine_id.clone(),
        config.credential.clone(),
        "control_priority test",
    )
    .await
    .unwrap();
    stage
        .wait_online(&config.machine_id, Duration::from_secs(10))
        .await
        .unwrap();
    (stage, config, c)
}

/// A heartbeat sent where it does not belong (an upload stream when
/// `bidi` is false, a report stream when true) closes that agent's
/// connection with a protocol error and `reason`; the relay serves on.
fn a_misplaced_heartbeat_closes_the_connection(bidi: bool, reason: &[u8]) {
    runtime().block_on(async {
        let (mut stage, _, c) = raw_agent().await;
        let mut up = if bidi {
            c.conn.open_bi().await.unwrap().0
        } else {
            c.conn.open_uni().await.unwrap()
        };
        lifeline_net::write_msg(
            &mut up,
            &lifeline_proto::AgentToRelay::Heartbeat { seq: 1 },
            lifeline_proto::MAX_FRAME_LEN,
        )
        .await
        .unwrap();
        up.finish().unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(10), c.conn.closed())
            .await
            .expect("the relay kept the connection");
        match closed {
            quinn::ConnectionError::ApplicationClosed(a) => {
                assert_eq!(
                    a.error_code.into_inner(),
                    u64::from(lifeline_proto::CloseCode::Protocol.code())
                );
                assert_eq!(&a.reason[..], reason);
            }
            other => panic!("closed otherwise: {other}"),
        }
        // The relay itself serves on.
        assert!(matches!(
            stage.admin.request(ConsoleRequest::ListMachines).await,
            Ok(ConsoleReply::Machines(_))
        ));
    });
}

#[test]
fn an_upload_stream_carries_inventory_only() {
    a_misplaced_heartbeat_closes_the_connection(
        false,
        b"only inventory data goes on an upload stream",
    );
}

#[test]
fn a_report_stream_carries_a_session_report_only() {
    a_misplaced_heartbeat_closes_the_connection(
        true,
        b"only a session report goes on a report stream",
    );
}

/// A report stream's answer: one byte saying the report was of no use (no
/// such session here), then the end; a report the relay cannot read is
/// refused with its own code. Either way the connection serves on.
#[test]
fn report_streams_answer_in_one_byte() {
    runtime().block_on(async {
        let (mut stage, config, c) = raw_agent().await;
        let report = lifeline_proto::session_log::SessionReport {
            session: 424_242,
            ..Default::default()
        };
        let (mut send, mut recv) = c.conn.open_bi().await.unwrap();
        lifeline_net::write_msg(
            &mut send,
            &lifeline_proto::AgentToRelay::SessionReport(report),
            lifeline_proto::MAX_FRAME_LEN,
        )
        .await
        .unwrap();
        send.finish().unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), recv.read_to_end(16))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer, [lifeline_proto::REPORT_UNWANTED]);

        // Bytes that are no message.
        let (mut send, mut recv) = c.conn.open_bi().await.unwrap();
        send.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        send.finish().unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(10), recv.read_to_end(16))
            .await
            .unwrap();
        match refused {
            Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
                assert_eq!(code.into_inner(), u64::from(lifeline_proto::REPORT_REFUSED));
            }
            other => panic!("not refused: {other:?}"),
        }
        // Still connected and heard.
        assert!(c.conn.close_reason().is_none());
        stage
            .wait_online(&config.machine_id, Duration::from_secs(5))
            .await
            .unwrap();
    });
}
