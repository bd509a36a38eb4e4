//! Unit tests of the agent's sessions: requests for control.

use super::*;
use lifeline_proto::EndReason;

fn offer(session: SessionId, purpose: SessionPurpose) -> SessionOffer {
    SessionOffer {
        technician_key: vec![7; 32],
        technician_cert: None,
        unattended: false,
        session,
        technician: "tom".into(),
        role: lifeline_proto::Role::Technician,
        purpose,
        permission: Permission::View,
        ticket: None,
        log_clipboard: false,
    }
}

/// What the technician's chat streams got so far.
fn heard(rx: &mut broadcast::Receiver<ChatMsg>) -> Vec<ChatMsg> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[tokio::test]
async fn a_technician_told_no_waits_before_asking_again() {
    // Unattended, so the session starts unasked; the request for control
    // still asks the user, who (no one at this display) does not allow.
    let (mut s, mut events) = Sessions::new(true);
    assert_eq!(
        s.offer(offer(1, SessionPurpose::Screen)),
        Some(Decision::Accept)
    );
    let mut tech = s.live[&1].from_user.subscribe();
    assert_eq!(s.on_request(1, StreamRequest::AskControl).await, None);
    let (id, no) = tokio::time::timeout(Duration::from_secs(20), events.control_answers.recv())
        .await
        .expect("no answer from the prompt")
        .unwrap();
    assert_eq!(id, 1);
    assert_ne!(no, Decision::Accept);
    assert_eq!(s.control_answered(1, &no).await, None);
    assert!(heard(&mut tech).contains(&ChatMsg::Permission { control: false }));

    // Asked again at once: the technician hears when to ask again, the
    // user sees no prompt.
    assert_eq!(s.on_request(1, StreamRequest::AskControl).await, None);
    let again = heard(&mut tech);
    assert!(
        again.contains(&ChatMsg::Permission { control: false }),
        "{again:?}"
    );
    assert!(
        again.iter().any(|m| matches!(m, ChatMsg::Notice { text } if text.contains("ask again in 60 s") || text.contains("ask again in 59 s"))),
        "{again:?}"
    );
    assert!(s.live[&1].control_prompt.is_none());
    let prompt =
        tokio::time::timeout(Duration::from_millis(500), events.control_answers.recv()).await;
    assert!(prompt.is_err(), "a second prompt: {prompt:?}");
    assert_eq!(s.live[&1].state.borrow().permission, Permission::View);
}

#[tokio::test]
async fn a_chat_or_a_ping_never_asks_for_control() {
    let (mut s, mut events) = Sessions::new(true);
    assert_eq!(
        s.offer(offer(2, SessionPurpose::Ping)),
        Some(Decision::Accept)
    );
    let mut tech = s.live[&2].from_user.subscribe();
    assert_eq!(s.on_request(2, StreamRequest::AskControl).await, None);
    let said = heard(&mut tech);
    assert!(
        said.iter().any(
            |m| matches!(m, ChatMsg::Notice { text } if text.contains("needs a screen session"))
        ),
        "{said:?}"
    );
    let prompt =
        tokio::time::timeout(Duration::from_millis(300), events.control_answers.recv()).await;
    assert!(prompt.is_err(), "a prompt: {prompt:?}");
}

#[tokio::test]
async fn a_session_whose_indicator_window_is_gone_ends() {
    let (mut s, _events) = Sessions::new(true);
    assert_eq!(
        s.offer(offer(3, SessionPurpose::Screen)),
        Some(Decision::Accept)
    );
    assert!(s.is_live(3));
    assert_eq!(
        s.on_ui(3, FromIndicator::Closed).await,
        Some(AgentToRelay::EndSession {
            session: 3,
            reason: EndReason::AgentClosed,
        })
    );
    assert!(!s.is_live(3));
    // The window closing with its session says nothing more.
    assert_eq!(s.on_ui(3, FromIndicator::Closed).await, None);
}

#[tokio::test]
async fn the_tray_names_everyone_connected() {
    let (mut s, _events) = Sessions::new(true);
    assert_eq!(s.live_technician(), None);
    s.offer(offer(4, SessionPurpose::Ping));
    assert_eq!(s.live_technician(), None, "a ping shows nobody");
    s.offer(offer(5, SessionPurpose::Screen));
    let mut other = offer(6, SessionPurpose::Screen);
    other.technician = "amy".into();
    s.offer(other);
    s.offer(offer(7, SessionPurpose::Screen));
    assert_eq!(s.live_technician().as_deref(), Some("amy, tom"));
}
