//! Session reports to the relay, each on a bidirectional stream of its own
//! at [`lifeline_proto::REPORT_PRIORITY`]: megabytes of chat do not hold up
//! the control stream, and the relay finishing its half of the stream says
//! the report was kept. Reports not confirmed when the connection ends go
//! to the next one.

use crate::journal::Journal;
use lifeline_net::write_msg;
use lifeline_proto::{
    AgentToRelay, MAX_FRAME_LEN, SessionId,
    session_log::{MAX_REPORT_BYTES, SessionReport},
};
use std::{collections::HashMap, time::Duration};
use tokio::task::JoinSet;
use tracing::warn;

/// How long a session's streams get to add their last figures to its
/// journal after it closed, before the report is read from it.
const SETTLE: Duration = Duration::from_millis(200);

/// Reports being sent on one connection.
#[derive(Default)]
pub struct Reporter {
    /// Journals whose reports the relay has not confirmed yet, by session.
    in_flight: HashMap<SessionId, Journal>,
    sending: JoinSet<(SessionId, Result<(), String>)>,
}

impl Reporter {
    /// Starts sending the report of `journal`; `settle` first for a session
    /// that just closed.
    pub fn send(&mut self, conn: &quinn::Connection, journal: Journal, settle: bool) {
        let session = journal.lock().map(|r| r.session).unwrap_or_default();
        self.in_flight.insert(session, journal.clone());
        let conn = conn.clone();
        self.sending.spawn(async move {
            if settle {
                tokio::time::sleep(SETTLE).await;
            }
            let report = journal.lock().map(|r| r.clone()).unwrap_or_default();
            (session, send_report(&conn, report).await)
        });
    }

    /// Whether any report is on its way.
    #[must_use]
    pub fn busy(&self) -> bool {
        !self.sending.is_empty()
    }

    /// Waits for a report to be confirmed or to fail (a failed one is sent
    /// again on the next connection).
    pub async fn next_done(&mut self) {
        if let Some(Ok((session, done))) = self.sending.join_next().await {
            match done {
                Ok(()) => {
                    self.in_flight.remove(&session);
                }
                Err(e) => warn!(session, "session report: {e}"),
            }
        }
    }

    /// The journals of reports the relay did not confirm (sending stops).
    pub fn unsent(mut self) -> Vec<Journal> {
        self.sending.abort_all();
        self.in_flight.into_values().collect()
    }
}

/// Sends a session's report, cut to [`MAX_REPORT_BYTES`] (oldest chat and
/// clipboard entries first, counted as dropped: a report too large for a
/// message would never leave), and waits for the relay to confirm it.
async fn send_report(conn: &quinn::Connection, mut report: SessionReport) -> Result<(), String> {
    let dropped = report.fit(MAX_REPORT_BYTES);
    if dropped > 0 {
        warn!(
            session = report.session,
            dropped, "session report too large: its oldest chat and clipboard entries left out"
        );
    }
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    let _ = send.set_priority(lifeline_proto::REPORT_PRIORITY);
    write_msg(
        &mut send,
        &AgentToRelay::SessionReport(report),
        MAX_FRAME_LEN,
    )
    .await
    .map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    // The relay finishes its half once it has kept the report.
    recv.read_to_end(64)
        .await
        .map(drop)
        .map_err(|e| format!("not confirmed: {e}"))
}
