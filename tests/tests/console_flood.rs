//! A console that sends requests and never reads the answers is read no
//! further once 16 answers wait to go out: before, the relay kept reading,
//! working and queueing answers in memory for as long as the console kept
//! sending. The relay goes on serving everyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_net::write_msg;
use lifeline_proto::{ConsoleReply, ConsoleRequest, MAX_FRAME_LEN, Request, ticket::TicketChange};
use lifeline_tests::{bench_inventory::populate_fleet_in, stage::Stage};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_never_reads_is_read_no_further() {
    // 20,000 machines: each listing answers about 1.6 MB.
    let mut stage = Stage::start_with(None, |store| {
        populate_fleet_in(store, 20_000, 0, false, &|_| None)
    })
    .await
    .unwrap();
    let mut flood = stage.admin_via(stage.addr).await.unwrap();
    let send = &mut flood.connected.send;
    let mut id = 1_000;
    // Enough big answers to fill every buffer between the relay and this
    // console, which reads none of them.
    for _ in 0..40 {
        id += 1;
        let req = Request {
            id,
            body: ConsoleRequest::ListMachines,
        };
        write_msg(send, &req, MAX_FRAME_LEN).await.unwrap();
    }
    // Then big requests, cheap to answer (no such ticket): a relay that
    // keeps reading takes them all at once.
    let comment = "x".repeat(60_000);
    let written = std::sync::atomic::AtomicUsize::new(0);
    let more = async {
        for _ in 0..1_500 {
            id += 1;
            let req = Request {
                id,
                body: ConsoleRequest::TicketUpdate {
                    ticket: 999_999,
                    change: TicketChange::Comment {
                        text: comment.clone(),
                    },
                },
            };
            write_msg(send, &req, MAX_FRAME_LEN).await.unwrap();
            written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    // Once the relay stops reading and every buffer on the way is full,
    // writing makes no progress at all, however fast or slow the machine.
    let watch = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = written.load(std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(3)).await;
        (before, written.load(std::sync::atomic::Ordering::Relaxed))
    };
    tokio::select! {
        () = more => panic!("the relay read 90 MB of requests from a console that reads nothing"),
        (before, after) = watch => {
            assert_eq!(before, after, "the relay kept reading the console's requests");
        }
    }

    // Everyone else is served.
    let reply = stage.admin.request(ConsoleRequest::Whoami).await.unwrap();
    assert!(matches!(reply, ConsoleReply::Whoami { .. }), "{reply:?}");
}
