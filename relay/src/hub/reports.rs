//! What agents tell the relay about their sessions after the fact: their
//! reports (on report streams, counted while being read), refused input,
//! and the sessions a relay crash left waiting for a report.

use super::{Hub, SessionStats};
use lifeline_proto::{SessionId, session_log::SessionReport};
use std::sync::{Arc, atomic::Ordering};

impl Hub {
    /// Waits for the report of a session the relay lost in a crash: the
    /// machine's agent sends it when it reconnects.
    pub fn adopt_orphan(&self, session: SessionId, machine_id: &str) -> Arc<SessionStats> {
        let stats = Arc::new(SessionStats::default());
        self.lock()
            .orphans
            .insert(session, (machine_id.to_string(), stats.clone()));
        stats
    }

    /// Stops waiting for an orphan's report (its log is being written).
    pub fn forget_orphan(&self, session: SessionId) {
        self.lock().orphans.remove(&session);
    }

    /// Records the agent's count of refused input for a session it owns.
    pub fn note_refused(&self, agent_conn_id: u64, session: SessionId, total: u64) {
        if let Some(st) = self.stats_of(agent_conn_id, session) {
            st.refused_input.fetch_max(total, Ordering::Relaxed);
        }
    }

    /// Keeps the agent's report of a session it owned (live or just ended,
    /// on this connection or, sent again after a cut, an earlier one of
    /// the same machine, or cut off by a relay crash). `false` when there
    /// is no use for it: an unknown session, or its log already written.
    pub fn note_report(&self, agent_conn_id: u64, machine_id: &str, report: SessionReport) -> bool {
        let earlier = || {
            let inner = self.lock();
            let recent = inner
                .recent
                .iter()
                .find(|(s, _, m, _)| *s == report.session && m == machine_id)
                .map(|(_, _, _, st)| st.clone());
            recent.or_else(|| {
                inner
                    .orphans
                    .get(&report.session)
                    .filter(|(m, _)| m == machine_id)
                    .map(|(_, st)| st.clone())
            })
        };
        let Some(st) = self
            .stats_of(agent_conn_id, report.session)
            .or_else(earlier)
        else {
            return false;
        };
        let Ok(mut slot) = st.report.lock() else {
            return false;
        };
        if st.logged.load(Ordering::Acquire) {
            tracing::warn!(
                session = report.session,
                "the agent's report came after the session's log was written"
            );
            return false;
        }
        *slot = Some(report);
        true
    }

    /// The relay starts (`true`) or finished (`false`) reading a report
    /// stream of an agent connection.
    pub fn reporting(&self, agent_conn_id: u64, started: bool) {
        let mut inner = self.lock();
        let n = inner.reporting.entry(agent_conn_id).or_default();
        *n = if started {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        };
        if *n == 0 {
            inner.reporting.remove(&agent_conn_id);
        }
    }

    /// Report streams of an agent connection being read now.
    #[must_use]
    pub fn reports_in_flight(&self, agent_conn_id: u64) -> u32 {
        self.lock()
            .reporting
            .get(&agent_conn_id)
            .copied()
            .unwrap_or(0)
    }

    /// The counters of a session this agent connection owns, live or
    /// recently ended (its late reports still count).
    fn stats_of(&self, agent_conn_id: u64, session: SessionId) -> Option<Arc<SessionStats>> {
        let inner = self.lock();
        let live = inner
            .sessions
            .get(&session)
            .filter(|e| e.agent_conn_id == agent_conn_id)
            .map(|e| e.stats.clone());
        live.or_else(|| {
            inner
                .recent
                .iter()
                .find(|(s, a, _, _)| *s == session && *a == agent_conn_id)
                .map(|(_, _, _, st)| st.clone())
        })
    }
}
