//! `lifeline-bench inventory`: collection on this machine, relay ingest from
//! concurrent agents, and fleet search over a large store.

use crate::{ms, stage::Stage};
use lifeline_inventory::{Category, LinuxSource, collect, synthetic_inventory};
use lifeline_net::{read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, ConsoleReply, ConsoleRequest, MAX_FRAME_LEN, RelayToAgent, Secret,
    inventory::{InventoryQuery, VersionFilter},
};
use lifeline_relay::store::{
    CategoryUpdate, InventoryStore, NewEnrollToken, PackageDelta, PackageRow, Store,
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The benchmark's figures.
#[derive(Debug, Serialize)]
pub struct InventoryReport {
    pub collect_packages: usize,
    pub collect_ms_p50: f64,
    pub collect_ms_max: f64,
    pub collect_root_packages: usize,
    pub collect_root_ms_p50: f64,
    pub ingest_agents: usize,
    pub ingest_packages_each: usize,
    pub ingest_seconds: f64,
    pub ingest_mb_uploaded: f64,
    pub ingest_connect_retries: usize,
    pub unchanged_upload_bytes: usize,
    pub find_machines: usize,
    pub find_packages_each: usize,
    pub find_matches: usize,
    pub find_ms_p50: f64,
    pub find_ms_p99: f64,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    lifeline::ping::quantile(sorted, q)
}

/// Collects, `runs` times, a copy of this machine's files whose dpkg
/// database is grown to `packages` entries (each real entry repeated under
/// new names), with sysinfo on: the "machine with ~2,000 packages"
/// when this one has fewer.
fn bench_collect_grown(packages: usize, runs: usize) -> anyhow::Result<(usize, f64)> {
    let dir = tempfile::tempdir()?;
    let real = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    let stanzas: Vec<&str> = real
        .split("\n\n")
        .filter(|s| s.starts_with("Package: "))
        .collect();
    anyhow::ensure!(
        !stanzas.is_empty(),
        "no dpkg status on this machine to grow"
    );
    let mut status = String::new();
    let mut n = 0;
    'grow: for copy in 0.. {
        for s in &stanzas {
            if n == packages {
                break 'grow;
            }
            let (first, rest) = s.split_once('\n').unwrap_or((s, ""));
            status.push_str(&format!("{first}-c{copy}\n{rest}\n\n"));
            n += 1;
        }
    }
    let dpkg = dir.path().join("var/lib/dpkg");
    std::fs::create_dir_all(&dpkg)?;
    std::fs::write(dpkg.join("status"), status)?;
    std::fs::create_dir_all(dir.path().join("etc"))?;
    if let Ok(os) = std::fs::read("/etc/os-release") {
        std::fs::write(dir.path().join("etc/os-release"), os)?;
    }
    let source = LinuxSource::with_root(dir.path()).with_sysinfo(true);
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let inv = collect(&source);
        times.push(t.elapsed());
        found = inv.software.packages.len();
    }
    times.sort();
    Ok((found, ms(quantile(&times, 0.5))))
}

/// Collects this machine's inventory `runs` times.
fn bench_collect(runs: usize) -> (usize, f64, f64) {
    let mut times = Vec::new();
    let mut packages = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let inv = collect(&LinuxSource::new());
        times.push(t.elapsed());
        packages = inv.software.packages.len();
    }
    times.sort();
    (
        packages,
        ms(quantile(&times, 0.5)),
        ms(quantile(&times, 1.0)),
    )
}

/// One simulated agent: hashes, the wanted categories, then a heartbeat
/// whose acknowledgement proves the relay has stored everything before it.
/// What one simulated agent sends, prepared before the clock starts.
struct Upload {
    hashes: lifeline_proto::inventory::InventoryHashes,
    data: Vec<lifeline_proto::inventory::InventoryData>,
}

fn prepare(seed: u64, packages: usize) -> Upload {
    let inv = synthetic_inventory(seed, packages);
    Upload {
        hashes: lifeline_agent::inventory::hashes(&inv),
        data: Category::ALL
            .iter()
            .filter_map(|c| lifeline_agent::inventory::data(&inv, c.as_str()))
            .collect(),
    }
}

/// Hellos the busy relay did not answer in time, retried (all agents).
pub static CONNECT_RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn upload(
    stage_addr: String,
    fp: lifeline_net::Fingerprint,
    machine_id: String,
    secret: Secret,
    up: Upload,
) -> anyhow::Result<usize> {
    let (mut c, retries) =
        crate::stage::agent_hello(&stage_addr, &fp, machine_id, secret, "lifeline-bench").await?;
    CONNECT_RETRIES.fetch_add(retries as usize, std::sync::atomic::Ordering::Relaxed);
    let Upload { hashes, data } = up;
    write_msg(
        &mut c.send,
        &AgentToRelay::InventoryHashes(hashes),
        MAX_FRAME_LEN,
    )
    .await?;
    let mut sent = 0;
    // Heartbeats every 10 s like a real agent, so a relay busy with the
    // rest of the fleet does not take this one for dead; the last one,
    // after the data, proves everything before it was stored.
    const DONE: u64 = u64::MAX;
    let mut beat = tokio::time::interval(std::time::Duration::from_secs(10));
    beat.tick().await;
    let mut seq = 0;
    // A reader task, so the select below never cancels a half-read frame.
    let (msg_tx, mut msg_rx) = tokio::sync::mpsc::channel(16);
    let mut recv = c.recv;
    let reader = tokio::spawn(async move {
        loop {
            let m = read_msg::<RelayToAgent>(&mut recv, MAX_FRAME_LEN).await;
            let stop = !matches!(m, Ok(Some(_)));
            if msg_tx.send(m).await.is_err() || stop {
                return;
            }
        }
    });
    loop {
        let msg = tokio::select! {
            m = msg_rx.recv() => m.unwrap_or(Ok(None))?,
            _ = beat.tick() => {
                seq += 1;
                write_msg(&mut c.send, &AgentToRelay::Heartbeat { seq }, MAX_FRAME_LEN).await?;
                continue;
            }
        };
        match msg {
            Some(RelayToAgent::InventoryWanted { categories }) => {
                for d in data.iter().filter(|d| categories.contains(&d.category)) {
                    sent += d.json.len();
                    write_msg(
                        &mut c.send,
                        &AgentToRelay::InventoryData(d.clone()),
                        MAX_FRAME_LEN,
                    )
                    .await?;
                }
                write_msg(
                    &mut c.send,
                    &AgentToRelay::Heartbeat { seq: DONE },
                    MAX_FRAME_LEN,
                )
                .await?;
            }
            Some(RelayToAgent::HeartbeatAck { seq: DONE, .. }) => break,
            Some(_) => {}
            None => anyhow::bail!("relay closed"),
        }
    }
    reader.abort();
    c.conn.close(0u32.into(), b"done");
    Ok(sent)
}

async fn bench_ingest(agents: usize, packages: usize) -> anyhow::Result<(f64, f64, usize)> {
    // The relay gets one core: a single-threaded runtime on its own thread
    // (its store thread does the SQLite work).
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            let _ = handle_tx.send(rt.handle().clone());
            rt.block_on(std::future::pending::<()>());
        }
    });
    let relay_rt = handle_rx.recv()?;
    let mut stage = Stage::start_with(Some(relay_rt), |_| Ok(())).await?;
    let token = stage.token(None).await?;
    let addr = stage.addr.to_string();
    let creds: Vec<(String, Secret)> = crate::bench_load::enroll_many(
        stage.dir.path(),
        &addr,
        &stage.fingerprint,
        &token,
        agents,
        "agent",
        50,
    )
    .await?
    .into_iter()
    .map(|(id, secret, _)| (id, secret))
    .collect();
    // Make the agents' inventories before the clock starts: the figure is
    // the relay's work, not the simulator's.
    let uploads: Vec<Upload> = (0..creds.len())
        .map(|i| prepare(i as u64, packages))
        .collect();
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for ((id, secret), up) in creds.into_iter().zip(uploads) {
        set.spawn(upload(
            addr.clone(),
            stage.fingerprint.clone(),
            id,
            secret,
            up,
        ));
    }
    let mut bytes = 0usize;
    while let Some(r) = set.join_next().await {
        bytes += r??;
    }
    let secs = start.elapsed().as_secs_f64();
    // An unchanged inventory: what the hashes message costs on the wire.
    let inv = synthetic_inventory(0, packages);
    let unchanged = lifeline_proto::encode_message(
        &AgentToRelay::InventoryHashes(lifeline_agent::inventory::hashes(&inv)),
        MAX_FRAME_LEN,
    )?
    .len();
    Ok((secs, bytes as f64 / 1e6, unchanged))
}

/// Fills `store` with `machines` enrolled machines, each with `packages`
/// software packages in the search index and, if `stored`, in its
/// software inventory too (what an export reads; the search benchmark's
/// fleet of 10,000 leaves it out). Tests use it for fleets too large to
/// upload.
///
/// # Errors
/// Store failures.
pub fn populate_fleet(
    store: &mut lifeline_relay::store::SqliteStore,
    machines: usize,
    packages: usize,
    stored: bool,
) -> anyhow::Result<()> {
    populate_fleet_in(store, machines, packages, stored, &|_| None)
}

/// [`populate_fleet`], with machine `m` enrolled in `group_of(m)`.
///
/// # Errors
/// Store failures.
pub fn populate_fleet_in(
    store: &mut lifeline_relay::store::SqliteStore,
    machines: usize,
    packages: usize,
    stored: bool,
    group_of: &dyn Fn(usize) -> Option<&'static str>,
) -> anyhow::Result<()> {
    store.bulk_load_mode()?;
    let t0 = Instant::now();
    // A token for each group, as it is first met.
    let mut tokens: Vec<(Option<&str>, [u8; 32])> = Vec::new();
    for m in 0..machines {
        let group = group_of(m);
        let token = match tokens.iter().find(|(g, _)| *g == group) {
            Some((_, t)) => *t,
            None => {
                let hash = [42 + tokens.len() as u8; 32];
                store.add_enroll_token(&NewEnrollToken {
                    hash,
                    group: group.map(Into::into),
                    created_by: 1,
                    created_unix: 0,
                    expires_unix: u64::MAX / 2,
                    max_uses: None,
                })?;
                tokens.push((group, hash));
                hash
            }
        };
        let inv = synthetic_inventory(m as u64, packages);
        let id = format!("{m:012x}");
        let info = lifeline_proto::MachineInfo {
            hostname: format!("ws-{m:05}"),
            os: "Debian 12".into(),
            arch: "x86_64".into(),
            agent_version: "bench".into(),
        };
        store.enroll(&token, &id, &[0; 32], &info, 0)?;
        let mut rows: Vec<PackageRow> = inv
            .software
            .packages
            .iter()
            .map(|p| PackageRow {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                source: "dpkg".into(),
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let json = if stored {
            serde_json::to_vec(&inv.software)?
        } else {
            b"{}".to_vec()
        };
        store.store_category(&CategoryUpdate {
            machine_id: &id,
            category: Category::Software.as_str(),
            hash: "x",
            json: &json,
            now_unix: 0,
            changes: &[],
            packages: Some(PackageDelta {
                removed: &[],
                added: &rows,
            }),
            facts: None,
        })?;
        if m % 1000 == 999 {
            eprintln!(
                "  fleet store: {} machines ({:.0} s)",
                m + 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

async fn bench_find(
    machines: usize,
    packages: usize,
    queries: usize,
) -> anyhow::Result<(usize, f64, f64)> {
    let mut stage =
        Stage::start_with(None, |s| populate_fleet(s, machines, packages, false)).await?;
    let mut times = Vec::new();
    let mut matches = 0;
    for q in 0..queries {
        let name = format!("libpkg{:05}", (q * 37) % packages.max(1));
        let t = Instant::now();
        let reply = stage
            .admin
            .request(ConsoleRequest::InventoryFind(InventoryQuery::Software {
                name,
                version: VersionFilter::Below("5.0".into()),
            }))
            .await?;
        times.push(t.elapsed());
        if let ConsoleReply::Found(rows) = reply {
            matches += rows.len();
        }
    }
    times.sort();
    Ok((
        matches / queries.max(1),
        ms(quantile(&times, 0.5)),
        ms(quantile(&times, 0.99)),
    ))
}

/// Runs all three parts.
///
/// # Errors
/// Setup failures.
pub async fn run(agents: usize, packages: usize, fleet: usize) -> anyhow::Result<InventoryReport> {
    let (collect_packages, collect_ms_p50, collect_ms_max) =
        tokio::task::spawn_blocking(|| bench_collect(10)).await?;
    let (collect_root_packages, collect_root_ms_p50) =
        tokio::task::spawn_blocking(move || bench_collect_grown(packages, 10)).await??;
    eprintln!("ingest: enrolling {agents} agents…");
    let (ingest_seconds, ingest_mb_uploaded, unchanged_upload_bytes) =
        bench_ingest(agents, packages).await?;
    eprintln!(
        "ingest: {agents} agents × {packages} packages in {ingest_seconds:.1} s ({ingest_mb_uploaded:.0} MB, {} hellos retried)",
        CONNECT_RETRIES.load(std::sync::atomic::Ordering::Relaxed)
    );
    eprintln!("find: building a store of {fleet} machines × {packages} packages…");
    let (find_matches, find_ms_p50, find_ms_p99) = bench_find(fleet, packages, 50).await?;
    Ok(InventoryReport {
        collect_packages,
        collect_ms_p50,
        collect_ms_max,
        collect_root_packages,
        collect_root_ms_p50,
        ingest_agents: agents,
        ingest_packages_each: packages,
        ingest_seconds,
        ingest_mb_uploaded,
        ingest_connect_retries: CONNECT_RETRIES.load(std::sync::atomic::Ordering::Relaxed),
        unchanged_upload_bytes,
        find_machines: fleet,
        find_packages_each: packages,
        find_matches,
        find_ms_p50,
        find_ms_p99,
    })
}

/// The report as Markdown.
pub fn markdown(r: &InventoryReport) -> String {
    format!(
        "| measure | value | target |\n|---|---:|---|\n\
         | collect this machine ({} packages), p50 | {:.1} ms | < 300 ms |\n\
         | collect, worst of 10 | {:.1} ms | |\n\
         | collect with this machine's dpkg database grown to {} packages, p50 | {:.1} ms | < 300 ms |\n\
         | relay ingest, {} concurrent agents × {} packages (relay on one core) | {:.1} s ({:.0} MB JSON, {} hellos retried) | < 30 s |\n\
         | unchanged inventory on the wire (hashes frame) | {} B | < 1 KB |\n\
         | `inventory find --software` over {} machines × {} packages, p50 | {:.1} ms ({} matches/query) | < 200 ms |\n\
         | same, p99 | {:.1} ms | |\n",
        r.collect_packages,
        r.collect_ms_p50,
        r.collect_ms_max,
        r.collect_root_packages,
        r.collect_root_ms_p50,
        r.ingest_agents,
        r.ingest_packages_each,
        r.ingest_seconds,
        r.ingest_mb_uploaded,
        r.ingest_connect_retries,
        r.unchanged_upload_bytes,
        r.find_machines,
        r.find_packages_each,
        r.find_ms_p50,
        r.find_matches,
        r.find_ms_p99
    )
}
