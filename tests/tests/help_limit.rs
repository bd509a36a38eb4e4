//! A machine opens at most ten tickets an hour by asking for help (the
//! relay's default): the eleventh request is refused with the reason, and
//! nothing of it is stored. Before, a script or a stolen machine credential
//! could open tickets without end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_agent::help::send_help;
use lifeline_relay::auth::HELP_REQUESTS_PER_HOUR;
use lifeline_tests::stage::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_help_request_in_an_hour_is_refused_with_the_reason() {
    let mut stage = Stage::start().await.unwrap();
    let cfg = stage.enroll("pc", stage.addr).await.unwrap();
    let mut tickets = Vec::new();
    for i in 0..HELP_REQUESTS_PER_HOUR {
        let t = send_help(&cfg, &format!("printer, try {i}"), "normal", Vec::new())
            .await
            .unwrap();
        tickets.push(t);
    }
    let e = send_help(&cfg, "printer, once more", "normal", Vec::new())
        .await
        .expect_err("an eleventh ticket within the hour")
        .to_string();
    assert!(
        e.contains("asked for help 10 times in the last hour"),
        "{e}"
    );
    assert!(e.contains("try again in 60 min"), "{e}");
    // Ten tickets, the eleventh not stored.
    let last = *tickets.last().unwrap();
    let reply = stage
        .admin
        .request(lifeline_proto::ConsoleRequest::TicketShow { ticket: last + 1 })
        .await;
    assert!(reply.is_err(), "{reply:?}");
    assert_eq!(tickets.len(), 10);
}
