//! Text typed by a user or sent by an agent (a help request, a session's
//! consent and chat) or by a technician (a comment) is kept printable by
//! the relay: listing or showing it cannot write escape sequences to the
//! terminal of the technician reading it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::ticket_cmd::{self, TicketFilter};
use lifeline_proto::{ConsoleReply, ConsoleRequest, printable::is_text, ticket::TicketChange};
use lifeline_tests::stage::Stage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_requests_and_comments_never_drive_a_terminal() {
    let mut stage = Stage::start().await.unwrap();
    let cfg = stage.enroll("pc", stage.addr).await.unwrap();
    // A retitle (OSC … BEL), a screen clear, a C1 CSI, a CRLF line end.
    let typed = "printer \u{1b}]0;owned\u{7}\u{1b}[2Jbroken\r\nit says \u{9b}31mPC LOAD LETTER";
    let ticket = lifeline_agent::help::send_help(&cfg, typed, "high", Vec::new())
        .await
        .unwrap();
    let comment = TicketChange::Comment {
        text: "call \u{1b}[31mback\u{7}\nafter 3".into(),
    };
    stage
        .admin
        .request(ConsoleRequest::TicketUpdate {
            ticket,
            change: comment,
        })
        .await
        .unwrap();

    let mut out = Vec::new();
    ticket_cmd::list(&mut stage.admin, &TicketFilter::default(), false, &mut out)
        .await
        .unwrap();
    let table = String::from_utf8(out).unwrap();
    let reply = stage
        .admin
        .request(ConsoleRequest::TicketShow { ticket })
        .await
        .unwrap();
    let ConsoleReply::Ticket(detail) = reply else {
        panic!("not a ticket: {reply:?}");
    };
    let shown = ticket_cmd::show(&detail);
    // As the relay stored it (the console also filters what it prints).
    assert_eq!(
        detail.description,
        "printer \u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2Jbroken\nit says \u{FFFD}31mPC LOAD LETTER"
    );
    assert_eq!(
        detail.row.title,
        "printer \u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2Jbroken"
    );
    let said = detail.events.iter().find(|e| e.kind == "comment").unwrap();
    assert_eq!(said.text, "call \u{FFFD}[31mback\u{FFFD}\nafter 3");
    assert!(is_text(&table), "{table:?}");
    assert!(is_text(&shown), "{shown:?}");
    // What was typed is all there, each control character as U+FFFD.
    assert!(
        table.contains("printer \u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2Jbroken\n"),
        "{table:?}"
    );
    assert!(
        shown.contains("broken\nit says \u{FFFD}31mPC LOAD LETTER\n"),
        "{shown:?}"
    );
    // A comment's second line stays under the first, not at the start of
    // a line of its own.
    assert!(
        shown.contains(
            "call \u{FFFD}[31mback\u{FFFD}\n                                       after 3"
        ),
        "{shown:?}"
    );
    assert_eq!(detail.row.priority, "high");
    // The audit names the machine that asked, whose credential the relay
    // checked; the user name is the agent's word, kept in the details.
    let by_machine = stage
        .audit_of(&format!("machine:{}", cfg.machine_id))
        .await
        .unwrap();
    let created = by_machine
        .iter()
        .find(|e| e.action == "ticket-created")
        .expect("no ticket-created entry for the machine");
    assert_eq!(created.target, format!("ticket {ticket}"));
    assert!(
        created.details.starts_with("requested by \""),
        "{created:?}"
    );
}
