//! `lifeline inventory …`: one machine's facts, its history, fleet search
//! and export.

use crate::{
    cli::parse_duration,
    client::Client,
    render::{Listing, ago},
};
use anyhow::{Context, bail};
use clap::Subcommand;
use lifeline_inventory::Inventory;
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ConsoleRequest,
    inventory::{FoundRow, InventoryQuery, VersionFilter},
    printable,
};
use std::{fmt::Write as _, path::PathBuf, time::Duration};

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// A machine's inventory in readable sections.
    Show {
        machine: String,
        #[arg(long)]
        json: bool,
    },
    /// What changed on a machine.
    History {
        machine: String,
        /// How far back, e.g. 30d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        since: Duration,
    },
    /// Which machines have a package (optionally in a version range) or a hardware fact.
    Find {
        /// Package name.
        #[arg(long, conflicts_with = "hardware")]
        software: Option<String>,
        /// Only versions below this (dpkg/rpm ordering).
        #[arg(long, requires = "software", conflicts_with = "version_ge")]
        version_lt: Option<String>,
        /// Only versions at or above this.
        #[arg(long, requires = "software")]
        version_ge: Option<String>,
        /// field=value, e.g. cpu.vendor=GenuineIntel or disks.model="Samsung SSD".
        #[arg(long)]
        hardware: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The whole fleet's (or a group's) inventory.
    Export {
        #[arg(long, value_parser = ["csv", "json"], default_value = "json")]
        format: String,
        #[arg(long)]
        group: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Ask a machine to collect and upload its inventory now.
    Refresh { machine: String },
}

/// Runs an inventory command.
///
/// # Errors
/// Relay refusals, bad arguments, file errors.
pub async fn run(c: &mut Client, cmd: InventoryCommand) -> anyhow::Result<()> {
    match cmd {
        InventoryCommand::Show { machine, json } => {
            let reply = c.request(ConsoleRequest::Inventory { machine }).await?;
            let ConsoleReply::Inventory {
                machine_id,
                hostname,
                updated_unix,
                json: bytes,
            } = reply
            else {
                bail!("unexpected answer {reply:?}");
            };
            let inv: Inventory = serde_json::from_slice(&bytes).context("inventory from relay")?;
            if json {
                println!("{}", crate::render::json(&inv)?);
            } else {
                print!("{}", show(&machine_id, &hostname, updated_unix, &inv));
            }
        }
        InventoryCommand::History { machine, since } => {
            let since_unix = unix_secs().saturating_sub(since.as_secs());
            let reply = c
                .request(ConsoleRequest::InventoryHistory {
                    machine,
                    since_unix,
                })
                .await?;
            let ConsoleReply::History(rows) = reply else {
                bail!("unexpected answer {reply:?}");
            };
            let now = unix_secs();
            for r in &rows {
                let change = match (&r.old, &r.new) {
                    (Some(o), Some(n)) => format!("{o} → {n}"),
                    (None, Some(n)) => n.clone(),
                    (Some(o), None) => o.clone(),
                    (None, None) => String::new(),
                };
                // As the agent reported it: kept printable.
                println!(
                    "{}",
                    printable::text(format!(
                        "{:<12} {:<8} {:<8} {} {}",
                        ago(now, r.at_unix),
                        r.category,
                        r.kind,
                        r.key,
                        change
                    ))
                );
            }
            if rows.is_empty() {
                println!("(no changes in that time)");
            }
        }
        InventoryCommand::Find {
            software,
            version_lt,
            version_ge,
            hardware,
            json,
        } => {
            let query = match (software, hardware) {
                (Some(name), None) => InventoryQuery::Software {
                    name,
                    version: match (version_lt, version_ge) {
                        (Some(v), _) => VersionFilter::Below(v),
                        (None, Some(v)) => VersionFilter::AtLeast(v),
                        (None, None) => VersionFilter::Any,
                    },
                },
                (None, Some(h)) => {
                    let Some((field, value)) = h.split_once('=') else {
                        bail!("--hardware takes field=value, e.g. cpu.vendor=GenuineIntel");
                    };
                    InventoryQuery::Hardware {
                        field: field.trim().to_string(),
                        value: value.trim().to_string(),
                    }
                }
                _ => bail!("give --software NAME or --hardware field=value"),
            };
            let reply = c.request(ConsoleRequest::InventoryFind(query)).await?;
            let ConsoleReply::Found(rows) = reply else {
                bail!("unexpected answer {reply:?}");
            };
            if json {
                println!("{}", crate::render::json(&found_json(&rows))?);
            } else {
                for r in &rows {
                    println!(
                        "{}",
                        printable::text(format!(
                            "{:<13} {:<20} {:<12} {}",
                            r.machine_id,
                            r.hostname,
                            r.group.as_deref().unwrap_or("-"),
                            r.value
                        ))
                    );
                }
                println!("{} machine(s)", rows.len());
            }
        }
        InventoryCommand::Export { format, group, out } => {
            let csv = format == "csv";
            match out {
                Some(path) => {
                    // Written beside it first: a failed export leaves no
                    // half file under the name asked for.
                    let part = path.with_extension("part");
                    let file = std::fs::File::create(&part)
                        .with_context(|| format!("cannot write {}", part.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    let written = export_to(c, csv, group, &mut w).await.and_then(|n| {
                        std::io::Write::flush(&mut w)?;
                        Ok(n)
                    });
                    if let Err(e) = written {
                        let _ = std::fs::remove_file(&part);
                        return Err(e);
                    }
                    std::fs::rename(&part, &path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => {
                    let stdout = std::io::stdout().lock();
                    // On a terminal, CSV is shown printable (JSON already
                    // escapes every control character); piped, as it is.
                    let shown = csv && std::io::IsTerminal::is_terminal(&stdout);
                    let mut w: Box<dyn std::io::Write> = if shown {
                        Box::new(crate::render::ShownWriter::new(stdout))
                    } else {
                        Box::new(stdout)
                    };
                    let mut w = std::io::BufWriter::new(&mut w);
                    export_to(c, csv, group, &mut w).await?;
                    std::io::Write::flush(&mut w)?;
                }
            }
        }
        InventoryCommand::Refresh { machine } => {
            c.request(ConsoleRequest::RefreshInventory {
                machine: machine.clone(),
            })
            .await?;
            println!("asked {machine} to collect its inventory now");
        }
    }
    Ok(())
}

/// Writes the export of `group` (or every visible machine) to `out` as
/// CSV or pretty JSON, a page at a time; returns the machines written.
///
/// # Errors
/// Relay refusals, unreadable pages, write failures.
pub async fn export_to(
    c: &mut Client,
    csv: bool,
    group: Option<String>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<usize> {
    let paged = c.connected.welcome.protocol_version >= lifeline_proto::REPORT_STREAMS_VERSION;
    // CSV: the header once, on top, then each machine's lines.
    let mut listing = Listing::new(out, !csv, Some(export_csv(&[])));
    crate::pages::walk(
        c,
        "the export",
        |after| {
            if paged {
                ConsoleRequest::InventoryExportPage {
                    group: group.clone(),
                    after,
                }
            } else {
                // A version-1 relay answers in one message (up to 8 MiB).
                ConsoleRequest::InventoryExport {
                    group: group.clone(),
                }
            }
        },
        |reply| match reply {
            ConsoleReply::ExportPage { rows, next } => Ok((rows, next)),
            ConsoleReply::Export(rows) => Ok((rows, None)),
            other => Err(other),
        },
        // By machine id.
        |next, after| next > after,
        |rows| {
            let page: Vec<serde_json::Value> = serde_json::from_slice(&rows)?;
            for row in &page {
                listing.push(row, |row| {
                    let text = export_csv(std::slice::from_ref(row));
                    text.split_once('\n')
                        .map_or_else(String::new, |(_, lines)| lines.to_string())
                })?;
            }
            Ok(())
        },
    )
    .await?;
    Ok(listing.finish("")?)
}

fn found_json(rows: &[FoundRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| {
            serde_json::json!({"machine_id": r.machine_id, "hostname": r.hostname, "group": r.group, "value": r.value})
        })
        .collect()
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The readable `inventory show` text.
pub fn show(machine_id: &str, hostname: &str, updated_unix: u64, inv: &Inventory) -> String {
    let mut s = String::new();
    let sys = &inv.system;
    let hw = &inv.hardware;
    let _ = writeln!(
        s,
        "{hostname} ({machine_id}), inventory updated {}",
        ago(unix_secs(), updated_unix)
    );
    let _ = writeln!(s, "\nSystem");
    let _ = writeln!(s, "  OS        {}", opt(&sys.os.pretty_name));
    let _ = writeln!(s, "  kernel    {}  {}", opt(&sys.kernel), opt(&sys.arch));
    let _ = writeln!(s, "  timezone  {}", opt(&sys.timezone));
    let _ = writeln!(
        s,
        "  users     {}",
        if sys.logged_in_users.is_empty() {
            "-".to_string()
        } else {
            sys.logged_in_users.join(", ")
        }
    );
    let _ = writeln!(s, "\nHardware");
    let _ = writeln!(
        s,
        "  vendor    {} {}",
        opt(&hw.dmi.vendor),
        opt(&hw.dmi.product)
    );
    let _ = writeln!(s, "  serial    {}", opt(&hw.dmi.serial));
    let _ = writeln!(
        s,
        "  BIOS      {} {} ({})",
        opt(&hw.dmi.bios_vendor),
        opt(&hw.dmi.bios_version),
        opt(&hw.dmi.bios_date)
    );
    let _ = writeln!(
        s,
        "  CPU       {} ({} cores, {} threads)",
        opt(&hw.cpu.model),
        opt(&hw.cpu.cores),
        opt(&hw.cpu.threads)
    );
    let _ = writeln!(
        s,
        "  memory    {}",
        hw.memory_total.map_or_else(|| "-".into(), gib)
    );
    for d in &hw.disks {
        let _ = writeln!(
            s,
            "  disk      {} {} {}",
            d.name,
            opt(&d.model),
            d.size_bytes.map_or_else(|| "-".into(), gib)
        );
        for f in &d.filesystems {
            let _ = writeln!(
                s,
                "              {} {} {} of {}",
                f.mount_point,
                f.fs_type,
                gib(f.used_bytes),
                gib(f.total_bytes)
            );
        }
    }
    for n in &hw.network_interfaces {
        let addrs: Vec<&str> = n
            .ipv4
            .iter()
            .chain(n.ipv6.iter())
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            s,
            "  network   {} {} {}",
            n.name,
            opt(&n.mac),
            addrs.join(" ")
        );
    }
    for g in &hw.gpus {
        let _ = writeln!(
            s,
            "  GPU       {} {}",
            opt(&g.vendor_name),
            opt(&g.device_name)
        );
    }
    for b in &hw.batteries {
        let _ = writeln!(
            s,
            "  battery   {} {}% {}",
            b.name,
            opt(&b.capacity_percent),
            opt(&b.status)
        );
    }
    let pkgs = &inv.software.packages;
    let _ = writeln!(s, "\nSoftware   {} packages", pkgs.len());
    for p in pkgs.iter().take(20) {
        let _ = writeln!(
            s,
            "  {:<32} {:<24} {}",
            p.name,
            p.version,
            p.source.as_str()
        );
    }
    if pkgs.len() > 20 {
        let _ = writeln!(s, "  … {} more (--json for all)", pkgs.len() - 20);
    }
    if !inv.errors.is_empty() {
        let _ = writeln!(s, "\nIncomplete");
        for e in &inv.errors {
            let _ = writeln!(s, "  {}: {}", e.source, e.message);
        }
    }
    // Every name and value as the agent reported it, which could hold
    // escape sequences for the technician's terminal.
    printable::text(s)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV row per installed package per machine (machines without
/// inventory get one row with empty package columns), under a header.
#[must_use]
pub fn export_csv(rows: &[serde_json::Value]) -> String {
    let mut out =
        String::from("machine_id,hostname,group,os,cpu,memory_bytes,package,version,arch,source\n");
    for r in rows {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let inv: Option<Inventory> = serde_json::from_value(r["inventory"].clone()).ok();
        let head = [
            s(&r["machine_id"]),
            s(&r["hostname"]),
            s(&r["group"]),
            inv.as_ref()
                .and_then(|i| i.system.os.pretty_name.clone())
                .unwrap_or_default(),
            inv.as_ref()
                .and_then(|i| i.hardware.cpu.model.clone())
                .unwrap_or_default(),
            inv.as_ref()
                .and_then(|i| i.hardware.memory_total)
                .map(|m| m.to_string())
                .unwrap_or_default(),
        ]
        .map(|f| csv_field(&f))
        .join(",");
        match inv.filter(|i| !i.software.packages.is_empty()) {
            None => out.push_str(&format!("{head},,,,\n")),
            Some(inv) => {
                for p in &inv.software.packages {
                    out.push_str(&format!(
                        "{head},{},{},{},{}\n",
                        csv_field(&p.name),
                        csv_field(&p.version),
                        csv_field(p.arch.as_deref().unwrap_or("")),
                        p.source.as_str()
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inventory_cannot_write_escape_sequences_to_the_terminal() {
        let mut inv = lifeline_inventory::synthetic_inventory(1, 3);
        inv.software.packages[0].name = "evil\u{1b}]0;owned\u{7}\u{1b}[2J".into();
        inv.system.timezone = Some("UTC\u{9b}31m".into());
        let shown = show("m-1", "pc", 0, &inv);
        assert!(printable::is_text(&shown), "{shown:?}");
        assert!(
            shown.contains("evil\u{FFFD}]0;owned\u{FFFD}\u{FFFD}[2J"),
            "{shown}"
        );
        assert!(shown.contains("UTC\u{FFFD}31m"), "{shown}");
    }
}
