//! `lifeline-bench fleet`: the machine list, the inventory export and
//! finding one machine by name, for fleets of several sizes. Every session, ping, inventory show
//! or revocation names its machine; the relay used to read the whole fleet
//! to find it, and now asks the store's index. Both lookups are timed on
//! the same store in the same run, and the whole path through the relay.
//! Technicians of a large and of a small group list their tickets and
//! session logs ([`crate::bench_groups`]).

use crate::{
    bench_groups::{self, GroupRow},
    bench_inventory::populate_fleet_in,
    ms, quantile_ms,
    stage::Stage,
};
use anyhow::ensure;
use lifeline::machine_cmd;
use lifeline_proto::{ConsoleReply, ConsoleRequest};
use lifeline_relay::store::{MachineQuery, SqliteStore, Store};
use serde::Serialize;
use std::time::Instant;

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
    /// `lifeline inventory export --format json`, every page (each
    /// machine's software: [`PACKAGES`] packages).
    pub export_ms: f64,
    pub export_pages: usize,
    /// The store finding a machine by name: reading the fleet (before).
    pub lookup_scan_ms_p50: f64,
    /// The same through the index (now).
    pub lookup_index_ms_p50: f64,
    /// `inventory show NAME`, console to relay and back (now).
    pub request_ms_p50: f64,
    pub request_ms_p99: f64,
    /// Technicians of one group each.
    pub groups: Vec<GroupRow>,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
pub struct FleetBench {
    pub rows: Vec<FleetRow>,
}

/// Packages in each machine's stored inventory (about 3 KB of JSON).
const PACKAGES: usize = 25;
/// The hostnames `populate_fleet` gives.
fn hostname(i: usize) -> String {
    format!("ws-{i:05}")
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
        let mut stage = Stage::start_with(None, |s| {
            populate_fleet_in(s, machines, PACKAGES, true, &bench_groups::group_of)?;
            bench_groups::populate(s, machines, hostname)
        })
        .await?;
        let (lookup_scan_ms_p50, lookup_index_ms_p50) =
            store_lookups(&mut stage.data.open_store()?, machines)?;
        let groups = bench_groups::run(&stage, machines).await?;

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
                ConsoleReply::MachinesPage { next: Some(n), .. } => {
                    after = Some(n);
                }
                _ => break,
            }
        }

        let t = Instant::now();
        let exported =
            lifeline::inventory_cmd::export_to(&mut stage.admin, false, None, &mut std::io::sink())
                .await?;
        let export = t.elapsed();
        ensure!(exported == machines, "exported {exported} of {machines}");
        let mut export_pages = 0;
        let mut after = None;
        loop {
            export_pages += 1;
            match stage
                .admin
                .request(ConsoleRequest::InventoryExportPage { group: None, after })
                .await?
            {
                ConsoleReply::ExportPage { next: Some(n), .. } => after = Some(n),
                _ => break,
            }
        }

        let mut request = Vec::new();
        for name in names(machines) {
            let t = Instant::now();
            // `inventory show NAME`: the relay finds the machine, then
            // reads its inventory (about 3 KB).
            let reply = stage
                .admin
                .request(ConsoleRequest::Inventory {
                    machine: name.clone(),
                })
                .await?;
            request.push(t.elapsed());
            ensure!(
                matches!(&reply, ConsoleReply::Inventory { hostname, .. } if *hostname == name),
                "not {name}'s inventory"
            );
        }
        rows.push(FleetRow {
            machines,
            list_ms: ms(list),
            list_mb: out.len() as f64 / 1e6,
            pages,
            export_ms: ms(export),
            export_pages,
            lookup_scan_ms_p50,
            lookup_index_ms_p50,
            request_ms_p50: quantile_ms(request.clone(), 0.5),
            request_ms_p99: quantile_ms(request, 0.99),
            groups,
        });
    }
    Ok(FleetBench { rows })
}

/// The figures as a Markdown table.
#[must_use]
pub fn markdown(r: &FleetBench) -> String {
    let mut s = String::from(
        "`lifeline machines --json`, `lifeline inventory export` and finding a machine by name\n\n\
         | machines | list | JSON | pages | export | pages | lookup, reading the fleet \
         (before) | lookup, index (now) | ratio | `inventory show NAME` p50 / p99 |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {:.0} ms | {:.1} MB | {} | {:.0} ms | {} | {:.2} ms | {:.3} ms | {:.0}× | \
             {:.2} / {:.2} ms |\n",
            row.machines,
            row.list_ms,
            row.list_mb,
            row.pages,
            row.export_ms,
            row.export_pages,
            row.lookup_scan_ms_p50,
            row.lookup_index_ms_p50,
            row.lookup_scan_ms_p50 / row.lookup_index_ms_p50.max(1e-9),
            row.request_ms_p50,
            row.request_ms_p99,
        ));
    }
    let groups: Vec<_> = r
        .rows
        .iter()
        .flat_map(|row| row.groups.iter().map(|g| (row.machines, g)))
        .collect();
    s.push_str(&bench_groups::markdown(&groups));
    s
}
