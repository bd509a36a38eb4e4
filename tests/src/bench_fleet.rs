//! `lifeline-bench fleet`: the machine list and finding one machine by
//! name, for fleets of several sizes. Every session, ping, inventory show
//! or revocation names its machine; the relay used to read the whole fleet
//! to find it, and now asks the store's index. Both lookups are timed on
//! the same store in the same run, and the whole path through the relay.

use crate::{ms, stage::Stage};
use anyhow::ensure;
use lifeline::machine_cmd;
use lifeline_proto::{ConsoleRequest, MachineInfo};
use lifeline_relay::store::{MachineQuery, NewEnrollToken, SqliteStore, Store};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Name lookups timed per fleet.
const LOOKUPS: usize = 200;

/// One fleet's figures.
#[derive(Debug, Serialize)]
pub struct FleetRow {
    pub machines: usize,
    /// `lifeline machines --json`, every page, written out.
    pub list_ms: f64,
    pub list_mb: f64,
    pub pages: usize,
    /// The store finding a machine by name: reading the fleet (before).
    pub lookup_scan_ms_p50: f64,
    /// The same through the index (now).
    pub lookup_index_ms_p50: f64,
    /// A request naming a machine, console to relay and back (now).
    pub request_ms_p50: f64,
    pub request_ms_p99: f64,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
pub struct FleetBench {
    pub rows: Vec<FleetRow>,
}

fn hostname(i: usize) -> String {
    format!("pc-{i:06}")
}

fn populate(s: &mut SqliteStore, machines: usize, now: u64) -> anyhow::Result<()> {
    s.bulk_load_mode()?;
    let token = [5; 32];
    s.add_enroll_token(&NewEnrollToken {
        hash: token,
        group: Some("office".into()),
        created_by: 1,
        created_unix: 0,
        expires_unix: u64::MAX / 2,
        max_uses: None,
    })?;
    for i in 0..machines {
        let info = MachineInfo {
            hostname: hostname(i),
            os: "Microsoft Windows 11 Enterprise 23H2 (OS build 22631.4460)".into(),
            arch: "x86_64".into(),
            agent_version: "1.0.0".into(),
        };
        s.enroll(&token, &format!("m-{i:06}"), &[0; 32], &info, now)?;
    }
    Ok(())
}

/// The `q` quantile of `times`, in milliseconds.
fn quantile_ms(mut times: Vec<Duration>, q: f64) -> f64 {
    times.sort();
    ms(lifeline::ping::quantile(&times, q))
}

/// The names looked up: spread over the fleet, the same for every way.
fn names(machines: usize) -> Vec<String> {
    (0..LOOKUPS)
        .map(|k| hostname(k * 7_919 % machines.max(1)))
        .collect()
}

/// Times both store lookups on the relay's database, through a connection
/// of its own (the relay is idle meanwhile).
fn store_lookups(s: &mut SqliteStore, machines: usize) -> anyhow::Result<(f64, f64)> {
    let (mut scan, mut index) = (Vec::new(), Vec::new());
    for name in names(machines).into_iter().take(LOOKUPS / 4) {
        let t = Instant::now();
        let all = s.machines(&MachineQuery::default())?;
        let found = all
            .iter()
            .filter(|m| m.info.hostname.eq_ignore_ascii_case(&name))
            .count();
        scan.push(t.elapsed());
        let t = Instant::now();
        let named = s.machines(&MachineQuery {
            hostname: Some(name.clone()),
            ..MachineQuery::default()
        })?;
        index.push(t.elapsed());
        ensure!(found == 1 && named.len() == 1, "{name} not found once");
    }
    Ok((quantile_ms(scan, 0.5), quantile_ms(index, 0.5)))
}

/// Times the list and name lookups for each fleet size.
///
/// # Errors
/// Setup failures, a refused request, a list missing machines.
pub async fn run(sizes: &[usize]) -> anyhow::Result<FleetBench> {
    let mut rows = Vec::new();
    for &machines in sizes {
        let now = lifeline_net::unix_secs();
        let mut stage = Stage::start_with(None, |s| populate(s, machines, now)).await?;
        let (lookup_scan_ms_p50, lookup_index_ms_p50) =
            store_lookups(&mut stage.data.open_store()?, machines)?;

        // Once untimed, then timed.
        machine_cmd::list(&mut stage.admin, None, true, &mut std::io::sink()).await?;
        let mut out = Vec::new();
        let mut pages = 0;
        let t = Instant::now();
        let listed = machine_cmd::list(&mut stage.admin, None, true, &mut out).await?;
        let list = t.elapsed();
        ensure!(listed == machines, "listed {listed} of {machines}");
        // Pages: walked by hand once more, untimed.
        let mut after = None;
        loop {
            pages += 1;
            match stage
                .admin
                .request(ConsoleRequest::MachinesPage {
                    stale_secs: None,
                    after,
                })
                .await?
            {
                lifeline_proto::ConsoleReply::MachinesPage { next: Some(n), .. } => {
                    after = Some(n);
                }
                _ => break,
            }
        }

        let mut request = Vec::new();
        for name in names(machines) {
            let t = Instant::now();
            // No inventory was uploaded: the answer names the machine
            // found, after the relay looked it up.
            let e = stage
                .admin
                .request(ConsoleRequest::Inventory {
                    machine: name.clone(),
                })
                .await
                .expect_err("no inventory");
            request.push(t.elapsed());
            ensure!(
                e.to_string() == format!("no inventory from {name} yet"),
                "{e}"
            );
        }
        rows.push(FleetRow {
            machines,
            list_ms: ms(list),
            list_mb: out.len() as f64 / 1e6,
            pages,
            lookup_scan_ms_p50,
            lookup_index_ms_p50,
            request_ms_p50: quantile_ms(request.clone(), 0.5),
            request_ms_p99: quantile_ms(request, 0.99),
        });
    }
    Ok(FleetBench { rows })
}

/// The figures as a Markdown table.
#[must_use]
pub fn markdown(r: &FleetBench) -> String {
    let mut s = String::from(
        "`lifeline machines --json` and finding a machine by name\n\n\
         | machines | list | JSON | pages | lookup, reading the fleet (before) | lookup, \
         index (now) | ratio | request naming a machine p50 / p99 |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {:.0} ms | {:.1} MB | {} | {:.2} ms | {:.3} ms | {:.0}× | {:.2} / {:.2} ms |\n",
            row.machines,
            row.list_ms,
            row.list_mb,
            row.pages,
            row.lookup_scan_ms_p50,
            row.lookup_index_ms_p50,
            row.lookup_scan_ms_p50 / row.lookup_index_ms_p50.max(1e-9),
            row.request_ms_p50,
            row.request_ms_p99,
        ));
    }
    s
}
