//! The relay's per-session state machine: offer → active → ended.
//!
//! The relay creates a [`Pairing`] when a console asks for a session, sends
//! the offer to the agent, and feeds the agent's answer, the passage of time
//! and either side's departure into it. Streams may only be spliced while the
//! pairing is active.

use crate::{Decision, EndReason, SessionId};
use std::time::{Duration, Instant};

/// How long an agent has to answer an offer: the 30 s the user has to
/// decide, plus slack for the round trip.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(33);

/// Where a session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingState {
    /// Offered to the agent; no answer yet.
    Offered { deadline: Instant },
    /// Both sides are in; streams may be spliced.
    Active { since: Instant },
    /// Over, for good.
    Ended { reason: EndReason, at: Instant },
}

/// A peer broke the pairing protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairingError {
    /// The agent answered an offer it had already answered.
    #[error("session {0} was already answered")]
    AlreadyAnswered(SessionId),
    /// The session is already over.
    #[error("session {0} has ended")]
    Ended(SessionId),
}

/// What the driver must do after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingEvent {
    /// Tell the console the session is open.
    Started,
    /// Tell both sides the session ended, and why.
    Ended(EndReason),
}

/// One session's pairing state.
#[derive(Debug)]
pub struct Pairing {
    id: SessionId,
    state: PairingState,
    created: Instant,
}

impl Pairing {
    /// A fresh offer made at `now` that expires after `timeout`.
    pub fn offer(id: SessionId, now: Instant, timeout: Duration) -> Self {
        Self {
            id,
            state: PairingState::Offered {
                deadline: now + timeout,
            },
            created: now,
        }
    }

    /// The session id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> &PairingState {
        &self.state
    }

    /// True while streams may be spliced.
    pub fn is_active(&self) -> bool {
        matches!(self.state, PairingState::Active { .. })
    }

    /// True once the session is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, PairingState::Ended { .. })
    }

    /// Feeds the agent's answer.
    ///
    /// # Errors
    /// A second answer or an answer after the end is a protocol breach.
    pub fn on_answer(
        &mut self,
        decision: Decision,
        now: Instant,
    ) -> Result<PairingEvent, PairingError> {
        if let Some(ev) = self.on_tick(now) {
            // The answer came after the deadline: the timeout wins.
            return Ok(ev);
        }
        match &self.state {
            PairingState::Offered { .. } => match decision {
                Decision::Accept | Decision::AcceptViewOnly => {
                    self.state = PairingState::Active { since: now };
                    Ok(PairingEvent::Started)
                }
                Decision::Decline { reason } => Ok(self.finish(EndReason::Declined(reason), now)),
                Decision::NoAnswer => Ok(self.finish(EndReason::Timeout, now)),
            },
            PairingState::Active { .. } => Err(PairingError::AlreadyAnswered(self.id)),
            PairingState::Ended { .. } => Err(PairingError::Ended(self.id)),
        }
    }

    /// Advances the clock; ends an unanswered offer whose deadline passed.
    pub fn on_tick(&mut self, now: Instant) -> Option<PairingEvent> {
        match self.state {
            PairingState::Offered { deadline } if now >= deadline => {
                Some(self.finish(EndReason::Timeout, now))
            }
            _ => None,
        }
    }

    /// When the driver should call [`Pairing::on_tick`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            PairingState::Offered { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Ends the session for `reason` unless it already ended; returns the
    /// event to broadcast, or `None` if it was over already.
    pub fn end(&mut self, reason: EndReason, now: Instant) -> Option<PairingEvent> {
        if self.is_ended() {
            return None;
        }
        Some(self.finish(reason, now))
    }

    /// How long the session has been active (zero if it never started).
    pub fn active_duration(&self, now: Instant) -> Duration {
        match self.state {
            PairingState::Active { since } => now.saturating_duration_since(since),
            _ => Duration::ZERO,
        }
    }

    /// Time since the offer was made.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    fn finish(&mut self, reason: EndReason, now: Instant) -> PairingEvent {
        self.state = PairingState::Ended {
            reason: reason.clone(),
            at: now,
        };
        PairingEvent::Ended(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        // A fixed origin; only differences matter.
        #[allow(clippy::disallowed_methods)]
        Instant::now()
    }

    #[test]
    fn accept_activates_and_end_is_reported_once() {
        let now = t0();
        let mut p = Pairing::offer(7, now, Duration::from_secs(30));
        assert_eq!(p.next_deadline(), Some(now + Duration::from_secs(30)));
        let ev = p
            .on_answer(Decision::Accept, now + Duration::from_secs(2))
            .unwrap();
        assert_eq!(ev, PairingEvent::Started);
        assert!(p.is_active());
        assert_eq!(
            p.active_duration(now + Duration::from_secs(12)),
            Duration::from_secs(10)
        );
        assert_eq!(
            p.end(EndReason::UserStopped, now + Duration::from_secs(12)),
            Some(PairingEvent::Ended(EndReason::UserStopped))
        );
        assert_eq!(p.end(EndReason::ConsoleClosed, now), None);
    }

    #[test]
    fn decline_ends_with_the_users_reason() {
        let now = t0();
        let mut p = Pairing::offer(1, now, Duration::from_secs(30));
        let ev = p
            .on_answer(
                Decision::Decline {
                    reason: "busy".into(),
                },
                now,
            )
            .unwrap();
        assert_eq!(ev, PairingEvent::Ended(EndReason::Declined("busy".into())));
        assert!(!p.is_active());
    }

    #[test]
    fn no_answer_from_the_user_ends_as_a_timeout_and_view_only_starts() {
        let now = t0();
        let mut p = Pairing::offer(1, now, Duration::from_secs(33));
        let ev = p.on_answer(Decision::NoAnswer, now).unwrap();
        assert_eq!(ev, PairingEvent::Ended(EndReason::Timeout));
        let mut p = Pairing::offer(2, now, Duration::from_secs(33));
        let ev = p.on_answer(Decision::AcceptViewOnly, now).unwrap();
        assert_eq!(ev, PairingEvent::Started);
        assert!(p.is_active());
    }

    #[test]
    fn no_answer_times_out_on_the_virtual_clock() {
        let now = t0();
        let mut p = Pairing::offer(1, now, Duration::from_secs(30));
        assert_eq!(p.on_tick(now + Duration::from_secs(29)), None);
        assert_eq!(
            p.on_tick(now + Duration::from_secs(30)),
            Some(PairingEvent::Ended(EndReason::Timeout))
        );
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn a_late_accept_loses_to_the_timeout() {
        let now = t0();
        let mut p = Pairing::offer(1, now, Duration::from_secs(30));
        let ev = p
            .on_answer(Decision::Accept, now + Duration::from_secs(31))
            .unwrap();
        assert_eq!(ev, PairingEvent::Ended(EndReason::Timeout));
        assert!(!p.is_active());
    }

    #[test]
    fn answering_twice_is_a_named_error() {
        let now = t0();
        let mut p = Pairing::offer(3, now, Duration::from_secs(30));
        p.on_answer(Decision::Accept, now).unwrap();
        assert_eq!(
            p.on_answer(Decision::Accept, now),
            Err(PairingError::AlreadyAnswered(3))
        );
        p.end(EndReason::ConsoleClosed, now);
        assert_eq!(
            p.on_answer(Decision::Accept, now),
            Err(PairingError::Ended(3))
        );
    }
}
