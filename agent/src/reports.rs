//! Session reports to the relay, each on a bidirectional stream of its own
//! at [`lifeline_proto::REPORT_PRIORITY`] (protocol version 2): megabytes
//! of chat do not hold up the control stream, and the relay's one-byte
//! answer says the report arrived. Reports not confirmed when the
//! connection ends go to the next one. A version-1 relay gets them on the
//! control stream, as before.

use crate::journal::Journal;
use lifeline_net::write_msg;
use lifeline_proto::{AgentToRelay, MAX_FRAME_LEN, SessionId, session_log::SessionReport};
use std::{collections::HashMap, time::Duration};
use tokio::{sync::mpsc, task::JoinSet};
use tracing::warn;

/// How long a session's streams get to add their last figures to its
/// journal after it closed, before the report is read from it.
const SETTLE: Duration = Duration::from_millis(200);

/// Where reports go on this connection.
#[derive(Clone)]
enum Route {
    /// Report streams (protocol version 2).
    Streams(quinn::Connection),
    /// The control stream, through the run loop (version 1).
    Control(mpsc::UnboundedSender<AgentToRelay>),
}

/// Reports being sent on one connection.
pub struct Reporter {
    route: Route,
    /// Journals whose reports the relay has not confirmed yet, by session.
    in_flight: HashMap<SessionId, Journal>,
    sending: JoinSet<(SessionId, Result<(), String>)>,
}

impl Reporter {
    /// Reports for a relay speaking protocol `version`: on report streams
    /// of `conn`, or for version 1 through `control` (the run loop writes
    /// them on the control stream).
    #[must_use]
    pub fn new(
        conn: &quinn::Connection,
        version: u16,
        control: mpsc::UnboundedSender<AgentToRelay>,
    ) -> Self {
        let route = if version >= lifeline_proto::REPORT_STREAMS_VERSION {
            Route::Streams(conn.clone())
        } else {
            Route::Control(control)
        };
        Self {
            route,
            in_flight: HashMap::new(),
            sending: JoinSet::new(),
        }
    }

    /// Starts sending the report of `journal`; `settle` first for a session
    /// that just closed.
    pub fn send(&mut self, journal: Journal, settle: bool) {
        let session = journal.lock().map(|r| r.session).unwrap_or_default();
        self.in_flight.insert(session, journal.clone());
        let route = self.route.clone();
        self.sending.spawn(async move {
            if settle {
                tokio::time::sleep(SETTLE).await;
            }
            let mut report = journal.lock().map(|r| r.clone()).unwrap_or_default();
            let dropped = report.bound();
            if dropped > 0 {
                warn!(
                    session,
                    dropped,
                    "session report too large: its oldest chat and clipboard entries left out"
                );
            }
            let sent = match route {
                Route::Streams(conn) => send_report(&conn, report).await,
                Route::Control(tx) => tx
                    .send(AgentToRelay::SessionReport(report))
                    .map_err(|_| "the connection ended".to_string()),
            };
            (session, sent)
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

/// Sends a session's report on a report stream and waits for the relay's
/// answer: `Ok` once it arrived (kept, or of no use to the relay: either
/// way not to be sent again), `Err` to send it again on the next
/// connection.
async fn send_report(conn: &quinn::Connection, report: SessionReport) -> Result<(), String> {
    let session = report.session;
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
    match recv.read_to_end(16).await {
        Ok(answer) if answer == [lifeline_proto::REPORT_KEPT] => Ok(()),
        Ok(answer) if answer == [lifeline_proto::REPORT_UNWANTED] => {
            warn!(
                session,
                "the relay had no use for the session report (its log was already written)"
            );
            Ok(())
        }
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code)))
            if code.into_inner() == u64::from(lifeline_proto::REPORT_REFUSED) =>
        {
            warn!(
                session,
                "the relay could not read the session report; dropped"
            );
            Ok(())
        }
        Ok(answer) => Err(format!("unexpected answer {answer:?}")),
        Err(e) => Err(format!("not confirmed: {e}")),
    }
}
