//! `lifeline-bench report`: `lifeline report tickets` over a path with a
//! round trip, reading its tickets' timelines one request at a time (as
//! before) and with [`DETAILS_IN_FLIGHT`] requests in flight (as now), in
//! the same run, on the same relay and tickets.

use crate::{lossy::LossyProxy, ms, stage::Stage};
use anyhow::ensure;
use lifeline::{
    client::Client,
    report::DETAILS_IN_FLIGHT,
    ticket_cmd::{TicketFilter, each_ticket},
};
use lifeline_proto::{
    ConsoleReply, ConsoleRequest,
    ticket::{HelpRequest, TicketChange},
};
use lifeline_relay::store::TicketStore;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One path's figures.
#[derive(Debug, Serialize)]
pub struct ReportRow {
    pub rtt_ms: u64,
    /// A timeline request at a time.
    pub one_at_a_time_ms: f64,
    /// Up to `in_flight` at once.
    pub pipelined_ms: f64,
    pub speedup: f64,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
pub struct ReportBench {
    pub tickets: usize,
    pub in_flight: usize,
    pub rows: Vec<ReportRow>,
}

/// Fills the store with `tickets` opened over the last day, each with a
/// comment and a status change (on the one enrolled machine).
fn populate(
    s: &mut lifeline_relay::store::SqliteStore,
    tickets: usize,
    now: u64,
) -> anyhow::Result<()> {
    s.bulk_load_mode()?;
    let machines = crate::stage::two_groups(s, "tech", "tech-password")?;
    for i in 0..tickets {
        let at = now - 80_000 + i as u64;
        let req = HelpRequest {
            requester: "user".into(),
            text: format!("printer {i} does not print"),
            priority: "normal".into(),
            screenshot_png: vec![],
        };
        let id = s.create_ticket(&machines[i % 2].0, &req, at)?;
        let comment = TicketChange::Comment {
            text: "looking at it".into(),
        };
        s.update_ticket(id, "tech", &comment, at + 60)?;
        let resolve = TicketChange::Status {
            status: "resolved".into(),
        };
        s.update_ticket(id, "tech", &resolve, at + 600)?;
    }
    Ok(())
}

/// The report's reads as before: the period's tickets, then each
/// timeline, one request at a time. Answers how many.
async fn one_at_a_time(c: &mut Client, since_unix: u64) -> anyhow::Result<usize> {
    let filter = TicketFilter {
        created_since: since_unix,
        ..TicketFilter::default()
    };
    let mut ids = Vec::new();
    each_ticket(c, &filter, |t| {
        ids.push(t.id);
        Ok(())
    })
    .await?;
    for &ticket in &ids {
        let reply = c.request(ConsoleRequest::TicketShow { ticket }).await?;
        ensure!(
            matches!(&reply, ConsoleReply::Ticket(d) if d.row.id == ticket),
            "not ticket {ticket}"
        );
    }
    Ok(ids.len())
}

/// Times both ways of reading the report over each round trip in `rtts_ms`
/// (0: straight to the relay on loopback).
///
/// # Errors
/// Setup failures, a refused request, a report missing tickets.
pub async fn run(tickets: usize, rtts_ms: &[u64]) -> anyhow::Result<ReportBench> {
    let now = lifeline_net::unix_secs();
    let stage = Stage::start_with(None, |s| populate(s, tickets, now)).await?;
    let period = Duration::from_secs(86_400);
    let mut rows = Vec::new();
    for &rtt_ms in rtts_ms {
        let proxy = (rtt_ms > 0)
            .then(|| LossyProxy::start(stage.addr, 0.0, Duration::from_millis(rtt_ms) / 2));
        let mut c = stage
            .admin_via(proxy.as_ref().map_or(stage.addr, |p| p.addr))
            .await?;
        // Once untimed, so that neither way runs on a colder store or
        // connection than the other.
        lifeline::report::fetch(&mut c, period).await?;
        let since_unix = lifeline_net::unix_secs() - period.as_secs();
        let t = Instant::now();
        let n = one_at_a_time(&mut c, since_unix).await?;
        let before = t.elapsed();
        let t = Instant::now();
        let report = lifeline::report::fetch(&mut c, period).await?;
        let now_ = t.elapsed();
        ensure!(
            n == tickets && report.tickets == tickets,
            "read {n} and {} tickets of {tickets}",
            report.tickets
        );
        c.close().await;
        rows.push(ReportRow {
            rtt_ms,
            one_at_a_time_ms: ms(before),
            pipelined_ms: ms(now_),
            speedup: before.as_secs_f64() / now_.as_secs_f64().max(1e-9),
        });
    }
    Ok(ReportBench {
        tickets,
        in_flight: DETAILS_IN_FLIGHT,
        rows,
    })
}

/// The figures as a Markdown table.
#[must_use]
pub fn markdown(r: &ReportBench) -> String {
    let mut s = format!(
        "`lifeline report tickets` over {} tickets of the last day (list in pages, then each \
         timeline)\n\n| round trip | a request at a time | {} in flight | speed-up |\n|---:|---:|---:|---:|\n",
        r.tickets, r.in_flight
    );
    for row in &r.rows {
        s.push_str(&format!(
            "| {} ms | {:.0} ms | {:.0} ms | {:.1}× |\n",
            row.rtt_ms, row.one_at_a_time_ms, row.pipelined_ms, row.speedup
        ));
    }
    s
}
