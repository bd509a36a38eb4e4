//! `lifeline-bench load`: one real relay process, N simulated agents (real
//! QUIC connections from this process) that enroll, upload a small
//! inventory and heartbeat, then M screen sessions between real agent
//! processes (synthetic typing at 1920×1080) and headless viewers. The
//! relay's memory and CPU come from /proc, so the figures are the relay's
//! alone.

use lifeline::client::Client;
use lifeline_inventory::synthetic_inventory;
use lifeline_net::{Fingerprint, read_msg, write_msg};
use lifeline_proto::{
    AgentToRelay, ConsoleReply, ConsoleRequest, MAX_FRAME_LEN, RelayToAgent, Secret,
};
use serde::Serialize;
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

const ADMIN: &str = "bench-admin";
const ADMIN_PW: &str = "bench-admin-password";
/// Heartbeat period of the simulated agents (the agent's default).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The benchmark's figures.
#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub agents: usize,
    pub enroll_per_sec: f64,
    pub connect_per_sec: f64,
    /// Agents connected at the end of the idle window.
    pub connected: usize,
    /// Connections the simulated agents lost and made again (as real
    /// agents do) over the whole run.
    pub reconnects: usize,
    pub relay_rss_base_mb: f64,
    pub relay_rss_agents_mb: f64,
    pub rss_per_idle_agent_kb: f64,
    pub idle_window_secs: f64,
    pub relay_cores_idle: f64,
    pub relay_cores_per_1000_agents: f64,
    pub sessions: usize,
    pub session_secs: f64,
    pub session_fps_mean: f64,
    pub session_kbit_per_s_total: f64,
    pub relay_cores_sessions: f64,
    pub relay_cores_per_session: f64,
    /// Sessions served from pre-encoded frames at 60 fps (see `bench_replay`).
    pub replayed_sessions: usize,
    pub replayed_fps_mean: f64,
    pub replayed_kbit_per_s_total: f64,
    pub relay_cores_replayed: f64,
    pub relay_cores_per_replayed_session: f64,
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().map(|d| d.join(name)).unwrap_or_default();
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the workspace binaries",
        path.display()
    );
    Ok(path)
}

/// RSS in bytes and CPU seconds (user + system) of a process.
pub(crate) fn proc_usage(pid: u32) -> anyhow::Result<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based); here 11 and 12.
    let hz = 100.0;
    Ok((rss_kb * 1024, (ticks(11) + ticks(12)) / hz))
}

struct RelayProc {
    child: Child,
    addr: String,
    fingerprint: Fingerprint,
    _dir: tempfile::TempDir,
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_relay() -> anyhow::Result<RelayProc> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("relay");
    let relay = sibling("lifeline-relay")?;
    let out = Command::new(&relay)
        .args(["user", "add", ADMIN, "--role", "admin", "--data-dir"])
        .arg(&data)
        .env("LIFELINE_PASSWORD", ADMIN_PW)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new(&relay)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("LIFELINE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("relay.log"))?)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    let second = lines.next().transpose()?.unwrap_or_default();
    std::thread::spawn(move || for _ in lines {});
    let addr = first
        .rsplit(' ')
        .next()
        .ok_or_else(|| anyhow::anyhow!("relay did not start: {first}"))?
        .to_string();
    let fingerprint = second
        .strip_prefix("fingerprint: ")
        .ok_or_else(|| anyhow::anyhow!("no fingerprint: {second}"))?
        .parse()?;
    Ok(RelayProc {
        child,
        addr,
        fingerprint,
        _dir: dir,
    })
}

/// The fleet's counters, shared by the simulated agents.
#[derive(Default)]
struct Fleet {
    /// Agents that connected at least once.
    connected: AtomicUsize,
    /// Agents connected right now.
    live: AtomicUsize,
    /// Connections lost and made again.
    reconnects: AtomicUsize,
    stop: AtomicBool,
}

/// One simulated agent: connect, report, upload what the relay wants, then
/// heartbeat until the fleet stops. Like a real agent it connects again
/// (with a jittered, growing delay) when its connection is lost.
async fn simulated_agent(
    addr: String,
    fp: Fingerprint,
    machine_id: String,
    secret: Secret,
    seed: u64,
    fleet: Arc<Fleet>,
) -> anyhow::Result<()> {
    let mut first = true;
    // The real agent's policy: 0.5 s doubling to 30 s, with jitter.
    let mut backoff =
        lifeline_agent::backoff::Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    for attempt in 0.. {
        let r = agent_connection(&addr, &fp, &machine_id, &secret, seed, &fleet, &mut first).await;
        if fleet.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if attempt >= 10 {
            return r;
        }
        fleet.reconnects.fetch_add(1, Ordering::Relaxed);
        let delay = backoff.next_delay(lifeline_agent::backoff::random_u64());
        tokio::time::sleep(delay).await;
    }
    Ok(())
}

/// One connection of a simulated agent, until it fails or the fleet stops.
async fn agent_connection(
    addr: &str,
    fp: &Fingerprint,
    machine_id: &str,
    secret: &Secret,
    seed: u64,
    fleet: &Fleet,
    first: &mut bool,
) -> anyhow::Result<()> {
    let (mut c, _) = crate::stage::agent_hello(
        addr,
        fp,
        machine_id.to_string(),
        secret.clone(),
        "lifeline-bench load",
    )
    .await?;
    if std::mem::take(first) {
        fleet.connected.fetch_add(1, Ordering::Relaxed);
    }
    fleet.live.fetch_add(1, Ordering::Relaxed);
    let r = agent_loop(&mut c, seed, fleet).await;
    fleet.live.fetch_sub(1, Ordering::Relaxed);
    c.conn.close(0u32.into(), b"bench done");
    r
}

async fn agent_loop(
    c: &mut lifeline_net::Connected,
    seed: u64,
    fleet: &Fleet,
) -> anyhow::Result<()> {
    let inv = synthetic_inventory(seed, 100);
    write_msg(
        &mut c.send,
        &AgentToRelay::InventoryHashes(lifeline_agent::inventory::hashes(&inv)),
        MAX_FRAME_LEN,
    )
    .await?;
    let mut seq = 0;
    let mut tick = tokio::time::interval(HEARTBEAT);
    while !fleet.stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                write_msg(&mut c.send, &AgentToRelay::Heartbeat { seq }, MAX_FRAME_LEN).await?;
            }
            msg = read_msg::<RelayToAgent>(&mut c.recv, MAX_FRAME_LEN) => {
                if let Some(RelayToAgent::InventoryWanted { categories }) = msg? {
                    for cat in categories {
                        if let Some(d) = lifeline_agent::inventory::data(&inv, &cat) {
                            write_msg(&mut c.send, &AgentToRelay::InventoryData(d), MAX_FRAME_LEN).await?;
                        }
                    }
                }
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    Ok(())
}

pub(crate) async fn enroll_many(
    dir: &Path,
    addr: &str,
    fp: &Fingerprint,
    token: &Secret,
    n: usize,
    prefix: &str,
    at_once: usize,
) -> anyhow::Result<Vec<(String, Secret, PathBuf)>> {
    let mut out = Vec::with_capacity(n);
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(at_once.max(1)) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk {
            let d = dir.join(format!("{prefix}-{i}"));
            let (addr, fp, token) = (addr.to_string(), fp.clone(), token.clone());
            set.spawn(async move {
                let cfg =
                    lifeline_agent::enroll::enroll(&d, &addr, &fp, token, false, None).await?;
                anyhow::Ok((cfg.machine_id, cfg.credential, d))
            });
        }
        while let Some(r) = set.join_next().await {
            out.push(r??);
        }
    }
    Ok(out)
}

/// Logs the benchmark's admin in with the real console into `work/console`.
fn console_login(work: &Path, relay: &RelayProc) -> anyhow::Result<PathBuf> {
    let console_dir = work.join("console");
    if console_dir.join("console.json").exists() {
        return Ok(console_dir);
    }
    let out = Command::new(sibling("lifeline")?)
        .args([
            "login",
            "--relay",
            &relay.addr,
            "--fingerprint",
            &relay.fingerprint.to_string(),
            "--user",
            ADMIN,
        ])
        .env("LIFELINE_CONFIG_DIR", &console_dir)
        .env("LIFELINE_PASSWORD", ADMIN_PW)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(console_dir)
}

/// Runs the benchmark.
///
/// # Errors
/// Setup failures.
pub async fn run(
    agents: usize,
    sessions: usize,
    replayed: usize,
    idle_secs: u64,
) -> anyhow::Result<LoadReport> {
    let relay = start_relay()?;
    let pid = relay.child.id();
    let work = tempfile::tempdir()?;
    let mut admin = Client::login(
        &relay.addr,
        &relay.fingerprint,
        ADMIN,
        Secret::new(ADMIN_PW),
        None,
    )
    .await?;
    let ConsoleReply::EnrollToken { token, .. } = admin
        .request(ConsoleRequest::CreateEnrollToken {
            group: None,
            ttl_secs: 86_400,
            max_uses: None,
        })
        .await?
    else {
        anyhow::bail!("no enrollment token");
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_base, _) = proc_usage(pid)?;

    eprintln!("load: enrolling {agents} agents…");
    let t = Instant::now();
    let creds = enroll_many(
        work.path(),
        &relay.addr,
        &relay.fingerprint,
        &token,
        agents,
        "sim",
        100,
    )
    .await?;
    let enroll_per_sec = agents as f64 / t.elapsed().as_secs_f64();

    eprintln!("load: connecting {agents} agents…");
    let fleet = Arc::new(Fleet::default());
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (i, (id, secret, _)) in creds.into_iter().enumerate() {
        set.spawn(simulated_agent(
            relay.addr.clone(),
            relay.fingerprint.clone(),
            id,
            secret,
            i as u64,
            fleet.clone(),
        ));
        if i % 100 == 99 {
            // Pace the connects, like a fleet coming back after a relay
            // restart spread by jittered backoff; the rate is measured end
            // to end.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut failed = 0;
    while fleet.connected.load(Ordering::Relaxed) + failed < agents && Instant::now() < deadline {
        while let Some(r) = set.try_join_next() {
            if let Ok(Err(e)) = r {
                failed += 1;
                if failed <= 3 {
                    eprintln!("load: an agent gave up: {}", lifeline_net::describe(&*e));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n_first = fleet.connected.load(Ordering::Relaxed);
    let connect_per_sec = n_first as f64 / t.elapsed().as_secs_f64();

    eprintln!("load: {n_first} agents connected; idle for {idle_secs} s…");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, cpu0) = proc_usage(pid)?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (rss_agents, cpu1) = proc_usage(pid)?;
    let n_connected = fleet.live.load(Ordering::Relaxed);
    let idle_window = t0.elapsed().as_secs_f64();
    let relay_cores_idle = (cpu1 - cpu0) / idle_window;

    // Screen sessions: real agents with a synthetic 1080p typing screen,
    // headless viewers, all through the relay.
    let mut session_fps = Vec::new();
    let mut session_bytes = 0.0;
    let mut relay_cores_sessions = 0.0;
    let session_secs = 10.0;
    if sessions > 0 {
        eprintln!("load: {sessions} screen sessions for {session_secs} s…");
        let creds = enroll_many(
            work.path(),
            &relay.addr,
            &relay.fingerprint,
            &token,
            sessions,
            "screen",
            100,
        )
        .await?;
        let agent_bin = sibling("lifeline-agent")?;
        let mut procs = Vec::new();
        for (_, _, dir) in &creds {
            procs.push(crate::bench_screen::procs::Guard::spawn(
                "lifeline-agent",
                Command::new(&agent_bin)
                    .args([
                        "run",
                        "--unattended",
                        "--no-tray",
                        "--capture",
                        "synthetic:typing",
                    ])
                    .env("LIFELINE_AGENT_DIR", dir)
                    .env("LIFELINE_LOG", "warn")
                    .env_remove("DISPLAY")
                    .stdout(Stdio::null()),
            )?);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let console_dir = console_login(work.path(), &relay)?;
        let console = sibling("lifeline")?;
        let (_, c0) = proc_usage(pid)?;
        let t0 = Instant::now();
        let mut viewers = Vec::new();
        for (i, (id, _, _)) in creds.iter().enumerate() {
            let rec = work.path().join(format!("rec-{i}"));
            viewers.push((
                rec.clone(),
                Command::new(&console)
                    .args([
                        "connect",
                        id,
                        "--headless",
                        "--duration",
                        &format!("{session_secs}s"),
                        "--record",
                    ])
                    .arg(&rec)
                    .env("LIFELINE_CONFIG_DIR", &console_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()?,
            ));
        }
        for (rec, child) in viewers {
            let out = child.wait_with_output()?;
            if !out.status.success() {
                eprintln!(
                    "load: a viewer failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                continue;
            }
            let stats: serde_json::Value =
                serde_json::from_slice(&std::fs::read(rec.join("stats.json"))?)?;
            session_fps.push(stats["fps"].as_f64().unwrap_or(0.0));
            session_bytes += stats["bytes"].as_f64().unwrap_or(0.0);
        }
        let (_, c1) = proc_usage(pid)?;
        relay_cores_sessions = (c1 - c0) / t0.elapsed().as_secs_f64();
        drop(procs);
    }
    let replay = if replayed > 0 {
        eprintln!(
            "load: {replayed} replayed 1080p typing sessions at 60 fps for {session_secs} s…"
        );
        let console_dir = console_login(work.path(), &relay)?;
        crate::bench_replay::phase(
            &crate::bench_replay::Setup {
                addr: relay.addr.clone(),
                fp: relay.fingerprint.clone(),
                token: token.clone(),
                work: work.path().to_path_buf(),
                console_dir,
                relay_pid: pid,
                secs: session_secs,
            },
            replayed,
        )
        .await?
    } else {
        crate::bench_replay::Replayed::default()
    };
    fleet.stop.store(true, Ordering::Relaxed);
    let reconnects = fleet.reconnects.load(Ordering::Relaxed);
    let n_sessions = session_fps.len();
    let cores_idle_share = relay_cores_idle;
    Ok(LoadReport {
        agents,
        enroll_per_sec,
        connect_per_sec,
        connected: n_connected,
        reconnects,
        relay_rss_base_mb: rss_base as f64 / 1e6,
        relay_rss_agents_mb: rss_agents as f64 / 1e6,
        rss_per_idle_agent_kb: rss_agents.saturating_sub(rss_base) as f64
            / 1024.0
            / n_connected.max(1) as f64,
        idle_window_secs: idle_window,
        relay_cores_idle,
        relay_cores_per_1000_agents: relay_cores_idle * 1000.0 / n_connected.max(1) as f64,
        sessions: n_sessions,
        session_secs,
        session_fps_mean: if n_sessions == 0 {
            0.0
        } else {
            session_fps.iter().sum::<f64>() / n_sessions as f64
        },
        session_kbit_per_s_total: session_bytes * 8.0 / 1000.0 / session_secs,
        relay_cores_sessions,
        relay_cores_per_session: (relay_cores_sessions - cores_idle_share).max(0.0)
            / n_sessions.max(1) as f64,
        replayed_sessions: replay.sessions,
        replayed_fps_mean: replay.fps_mean,
        replayed_kbit_per_s_total: replay.kbit_per_s_total,
        relay_cores_replayed: replay.relay_cores,
        relay_cores_per_replayed_session: (replay.relay_cores - cores_idle_share).max(0.0)
            / replay.sessions.max(1) as f64,
    })
}

/// The report as Markdown.
pub fn markdown(r: &LoadReport) -> String {
    format!(
        "| measure | value | target |\n|---|---:|---|\n\
         | agents enrolled, per second | {:.0} | |\n\
         | agents connected (hello + welcome), per second | {:.0} | |\n\
         | agents connected and idle (at the end of the idle window) | {} | 10,000 |\n\
         | connections lost and made again by the agents, whole run | {} | |\n\
         | relay RSS: empty / with agents | {:.1} MB / {:.1} MB | |\n\
         | relay RSS per idle agent | {:.1} KB | < 100 KB |\n\
         | relay CPU with idle agents (heartbeat every 10 s), over {:.0} s | {:.3} cores | < 1 core for 10,000 |\n\
         | relay CPU per 1,000 idle agents | {:.3} cores | |\n\
         | screen sessions (1080p synthetic typing, through the relay) | {} for {:.0} s | 50 |\n\
         | mean fps per session | {:.1} | |\n\
         | session throughput, all sessions | {:.0} kbit/s | |\n\
         | relay CPU during sessions | {:.3} cores | |\n\
         | relay CPU per session (over the idle load) | {:.4} cores | 50 sessions on 1 core: ≤ 0.02 |\n\
         | replayed sessions (pre-encoded 1080p typing at 60 fps, real viewers, through the relay) | {} | 50 |\n\
         | mean fps per replayed session | {:.1} | 60 |\n\
         | replayed throughput, all sessions (on the wire) | {:.0} kbit/s | |\n\
         | relay CPU during replayed sessions / per session (over the idle load) | {:.3} / {:.4} cores | ≤ 1 / ≤ 0.02 |\n",
        r.enroll_per_sec,
        r.connect_per_sec,
        r.connected,
        r.reconnects,
        r.relay_rss_base_mb,
        r.relay_rss_agents_mb,
        r.rss_per_idle_agent_kb,
        r.idle_window_secs,
        r.relay_cores_idle,
        r.relay_cores_per_1000_agents,
        r.sessions,
        r.session_secs,
        r.session_fps_mean,
        r.session_kbit_per_s_total,
        r.relay_cores_sessions,
        r.relay_cores_per_session,
        r.replayed_sessions,
        r.replayed_fps_mean,
        r.replayed_kbit_per_s_total,
        r.relay_cores_replayed,
        r.relay_cores_per_replayed_session,
    )
}
