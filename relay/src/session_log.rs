//! Every session's log: written when it ends, kept in the store, put on
//! the ticket it served (a new ticket when the technician gave none), and
//! summarised in the audit trail.

use crate::{audit::NewEntry, hub::EndedSession, server::Ctx, store::TicketQuery};
use lifeline_net::unix_secs;
use lifeline_proto::{
    SessionPurpose,
    session_log::{SessionLog, SessionReport},
    ticket::{HelpRequest, TicketChange},
};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// How long after the end the agent's report may take to arrive.
pub const REPORT_GRACE: Duration = Duration::from_secs(2);

/// Logs every session that ends, each in its own task so that waiting for
/// one agent's report never delays another's log.
pub async fn log_sessions(
    ctx: Arc<Ctx>,
    mut ended: tokio::sync::mpsc::UnboundedReceiver<EndedSession>,
) {
    while let Some(e) = ended.recv().await {
        tokio::spawn(log_session(ctx.clone(), e));
    }
}

/// How long a session cut off by a relay crash waits for its machine's
/// report before its log is written from what the relay stored.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Finds the sessions that were running when the relay last stopped
/// without ending them (killed, crashed) and writes their logs: each as
/// soon as its agent reconnects and reports, or after [`ORPHAN_GRACE`].
/// Runs before the relay accepts connections, so no report is missed.
pub async fn recover(ctx: &Arc<Ctx>) {
    let open = match ctx.store.call(|s| s.open_sessions()).await {
        Ok(o) => o,
        Err(e) => {
            warn!("cannot read the sessions open at the last stop: {e}");
            return;
        }
    };
    for o in open {
        let stats = ctx.hub.adopt_orphan(o.session, &o.machine_id);
        info!(
            session = o.session,
            machine = %o.machine_id,
            "session cut off when the relay stopped; waiting for its agent's report"
        );
        tokio::spawn(log_orphan(ctx.clone(), o, stats));
    }
}

async fn log_orphan(
    ctx: Arc<Ctx>,
    o: crate::store::OpenSession,
    stats: Arc<crate::hub::SessionStats>,
) {
    wait_for_report(&stats, Instant::now() + ORPHAN_GRACE).await;
    ctx.hub.forget_orphan(o.session);
    let cut = stats
        .report
        .lock()
        .ok()
        .and_then(|r| r.as_ref().and_then(|r| r.cut_unix));
    let e = EndedSession {
        session: o.session,
        machine_id: o.machine_id,
        offer: o.offer,
        offered_unix: o.offered_unix,
        started_unix: Some(o.started_unix),
        // When the agent lost the relay; without its report, the restart.
        ended_unix: cut.unwrap_or_else(unix_secs),
        reason: lifeline_proto::EndReason::RelayCrashed,
        // The byte counters died with the relay.
        bytes_to_agent: 0,
        bytes_to_console: 0,
        streams: 0,
        permission_asked: o.permission_asked,
        decision: o.decision,
        permission_changes: Vec::new(),
        stats,
        ended_at: Instant::now(),
        agent_conn_id: 0,
    };
    write_log(ctx, e).await;
}

fn purpose_name(p: SessionPurpose) -> &'static str {
    match p {
        SessionPurpose::Screen => "screen",
        SessionPurpose::Chat => "chat",
        SessionPurpose::Ping => "ping",
    }
}

/// The log of a session from what the relay saw and the agent reported.
pub fn build(e: &EndedSession, hostname: String, report: Option<SessionReport>) -> SessionLog {
    let report = report.unwrap_or_default();
    let duration_s = e.started_unix.map_or(0, |s| e.ended_unix.saturating_sub(s));
    let screen_s = report.screen_ms as f64 / 1000.0;
    let mean_fps = if screen_s > 0.0 {
        report.frames as f64 / screen_s
    } else {
        0.0
    };
    SessionLog {
        session: e.session,
        machine_id: e.machine_id.clone(),
        hostname,
        technician: e.offer.technician.clone(),
        ticket: e.offer.ticket,
        ticket_created: false,
        purpose: purpose_name(e.offer.purpose).into(),
        permission_asked: e.permission_asked,
        decision: e.decision.clone().unwrap_or_else(|| "no answer".into()),
        consent: report.consent,
        offered_unix: e.offered_unix,
        started_unix: e.started_unix,
        ended_unix: e.ended_unix,
        duration_s,
        ended: e.reason.to_string(),
        bytes_to_agent: e.bytes_to_agent,
        bytes_to_console: e.bytes_to_console,
        streams: e.streams,
        frames: report.frames,
        mean_fps: (mean_fps * 10.0).round() / 10.0,
        refused_input: e.stats.refused_input.load(Ordering::Relaxed),
        permission_changes: e.permission_changes.clone(),
        chat: report.chat,
        chat_dropped: report.chat_dropped,
        clipboard: report.clipboard,
    }
}

/// Waits until the agent's report is in `stats` or `deadline` passes.
async fn wait_for_report(stats: &crate::hub::SessionStats, deadline: Instant) {
    wait_for_report_or(stats, deadline, || false).await;
}

/// Waits for the report until `deadline`, and after it while `still` holds
/// (at most [`ORPHAN_GRACE`] longer).
async fn wait_for_report_or(
    stats: &crate::hub::SessionStats,
    deadline: Instant,
    still: impl Fn() -> bool,
) {
    let last = deadline + ORPHAN_GRACE;
    loop {
        let now = Instant::now();
        if stats.report.lock().is_ok_and(|r| r.is_some())
            || now >= last
            || (now >= deadline && !still())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn log_session(ctx: Arc<Ctx>, e: EndedSession) {
    // A session that ran has a report from its agent on the way; a large
    // one on a thin uplink is still being read after the grace.
    if e.started_unix.is_some() {
        wait_for_report_or(&e.stats, e.ended_at + REPORT_GRACE, || {
            ctx.hub.reports_in_flight(e.agent_conn_id) > 0
        })
        .await;
    }
    write_log(ctx, e).await;
}

/// Writes the log of `e` with the agent's report if it came.
async fn write_log(ctx: Arc<Ctx>, e: EndedSession) {
    let wants_report = e.started_unix.is_some();
    // The refused-input count travels separately; give it a moment.
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Under the report's lock, so a report is either taken here or refused
    // as late by the hub, never left behind.
    let report = e.stats.report.lock().ok().and_then(|mut r| {
        e.stats
            .logged
            .store(true, std::sync::atomic::Ordering::Release);
        r.take()
    });
    if wants_report && report.is_none() {
        warn!(
            session = e.session,
            "no report from the agent; logging what the relay saw"
        );
    }
    let id = e.machine_id.clone();
    let hostname = ctx
        .store
        .call(move |s| s.machine(&id))
        .await
        .ok()
        .flatten()
        .map_or_else(String::new, |m| m.info.hostname);
    let mut log = build(&e, hostname, report);
    info!(session = e.session, machine = %e.machine_id, reason = %e.reason, "session ended");
    let details = serde_json::json!({
        "session": log.session,
        "purpose": log.purpose,
        "decision": log.decision,
        "ticket": log.ticket,
        "duration_s": log.duration_s,
        "reason": log.ended,
        "bytes_to_agent": log.bytes_to_agent,
        "bytes_to_console": log.bytes_to_console,
        "frames": log.frames,
        "refused_input": log.refused_input,
    });
    ctx.audit(NewEntry::new(
        &e.offer.technician,
        "session-ended",
        &e.machine_id,
        details.to_string(),
    ))
    .await;
    let needs_ticket = log.ticket.is_none()
        && log.started_unix.is_some()
        && e.offer.purpose != SessionPurpose::Ping;
    if needs_ticket {
        match open_ticket_for(&ctx, &log).await {
            Ok(t) => {
                log.ticket = Some(t);
                log.ticket_created = true;
            }
            Err(err) => warn!(
                session = log.session,
                "cannot open a ticket for the session: {err}"
            ),
        }
    }
    let saved = log.clone();
    if let Err(err) = ctx.store.call(move |s| s.save_session(&saved)).await {
        warn!(session = log.session, "cannot store the session log: {err}");
    }
    if let Some(ticket) = log.ticket {
        attach(&ctx, ticket, &log).await;
        crate::notify::ticket_changed(&ctx, ticket).await;
    }
}

/// Ticketless sessions of one technician on one machine within this long
/// share one ticket (a script typing ten commands is one piece of work).
const SHARE_TICKET_WITHIN_S: u64 = 3600;

/// The title of a ticket opened for ticketless sessions.
fn session_ticket_title(technician: &str, machine: &str) -> String {
    format!("Remote session by {technician} on {machine} (opened without a ticket)")
}

/// A resolved ticket, assigned to the technician, recording a session
/// that was opened without one; the technician's recent one for the same
/// machine if there is one.
async fn open_ticket_for(ctx: &Ctx, log: &SessionLog) -> Result<u64, String> {
    let title = session_ticket_title(
        &log.technician,
        if log.hostname.is_empty() {
            &log.machine_id
        } else {
            &log.hostname
        },
    );
    let req = HelpRequest {
        requester: log.technician.clone(),
        text: title.clone(),
        priority: "normal".into(),
        screenshot_png: Vec::new(),
    };
    let (machine, tech) = (log.machine_id.clone(), log.technician.clone());
    let now = unix_secs();
    ctx.store
        .call(move |s| {
            // The technician's tickets of the last hour on this machine
            // only, not her whole history.
            let query = TicketQuery {
                assignee: Some(tech.clone()),
                created_since: now.saturating_sub(SHARE_TICKET_WITHIN_S - 1),
                machine: Some(machine.clone()),
                ..TicketQuery::default()
            };
            let mut recent = None;
            s.ticket_scan(&query, None, None, &mut |t| {
                let fits = t.title.starts_with("Remote session by ")
                    && t.requester == tech
                    && t.status != "closed";
                if fits {
                    recent = Some(t);
                }
                !fits
            })?;
            if let Some(t) = recent {
                return Ok(t.id);
            }
            let t = s.create_ticket(&machine, &req, now)?;
            // The technician may be an account that cannot be assigned
            // (an auditor never opens sessions, so this is rare).
            let _ = s.update_ticket(t, &tech, &TicketChange::Assign { user: tech.clone() }, now);
            let _ = s.update_ticket(
                t,
                &tech,
                &TicketChange::Status {
                    status: "resolved".into(),
                },
                now,
            );
            Ok(t)
        })
        .await
        .map_err(|e| e.to_string())
}

/// Puts the session on its ticket: a timeline entry a person reads and
/// the JSON log as an attachment.
async fn attach(ctx: &Ctx, ticket: u64, log: &SessionLog) {
    let text = format!(
        "session {} by {}: {}, {} s, {}; ended: {}; {} bytes to the agent, {} bytes to the technician, {} frames, {} input refused",
        log.session,
        log.technician,
        log.purpose,
        log.duration_s,
        log.decision,
        log.ended,
        log.bytes_to_agent,
        log.bytes_to_console,
        log.frames,
        log.refused_input
    );
    let tech = log.technician.clone();
    let name = format!("session-{}.json", log.session);
    let json = serde_json::to_vec_pretty(log).unwrap_or_default();
    let now = unix_secs();
    let r = ctx
        .store
        .call(move |s| {
            s.ticket_event(ticket, &tech, "session", &text, now)?;
            s.attach(ticket, "session-log", &name, &json, now)
        })
        .await;
    if let Err(err) = r {
        warn!(ticket, "cannot attach the session log: {err}");
    }
}

#[cfg(test)]
mod wait_tests {
    use super::*;
    use crate::hub::SessionStats;

    #[tokio::test]
    async fn a_report_still_being_read_is_waited_for_past_the_grace() {
        let stats = Arc::new(SessionStats::default());
        let late = stats.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            *late.report.lock().unwrap() = Some(SessionReport {
                session: 5,
                ..SessionReport::default()
            });
        });
        // Grace over after 50 ms, but a report stream is still being read.
        wait_for_report_or(&stats, Instant::now() + Duration::from_millis(50), || true).await;
        assert_eq!(
            stats.report.lock().unwrap().as_ref().map(|r| r.session),
            Some(5)
        );
    }

    #[tokio::test]
    async fn without_a_report_on_its_way_the_grace_is_all() {
        let stats = SessionStats::default();
        let started = Instant::now();
        wait_for_report_or(&stats, started + Duration::from_millis(50), || false).await;
        assert!(stats.report.lock().unwrap().is_none());
        assert!(started.elapsed() < ORPHAN_GRACE);
    }
}
