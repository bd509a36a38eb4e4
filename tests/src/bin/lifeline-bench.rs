//! `lifeline-bench`: benchmarks that print numbers (never pass/fail).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lifeline-bench",
    version,
    about = "Lifeline benchmarks; each prints a Markdown table"
)]
struct Cli {
    /// Also write the figures as JSON here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Round trips through the relay vs a direct QUIC connection.
    Ping {
        /// Probes per path.
        #[arg(long, default_value_t = 5000)]
        count: u32,
    },
    /// Input latency on a real Xvfb: round trip to injection, and
    /// keystroke to decoded pixels.
    Input {
        /// Pointer moves timed for the round trip.
        #[arg(long, default_value_t = 2000)]
        events: usize,
        /// Keys timed from send to decoded pixels.
        #[arg(long, default_value_t = 200)]
        keys: usize,
    },
    /// One pass of the agent's capture loop on a 1080p Xvfb (pointer,
    /// damage, read of what was drawn), idle and drawing, whole screen and
    /// a selected monitor.
    Capture {
        /// Passes timed per area and screen state.
        #[arg(long, default_value_t = 2000)]
        passes: usize,
    },
    /// Inventory collection, relay ingest and fleet search.
    Inventory {
        /// Concurrent agents uploading a full inventory.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Packages per synthetic inventory.
        #[arg(long, default_value_t = 2000)]
        packages: usize,
        /// Machines in the store searched by `inventory find`.
        #[arg(long, default_value_t = 10000)]
        fleet: usize,
    },
    /// `lifeline report tickets` over a path with a round trip: ticket
    /// timelines read one request at a time vs several in flight.
    Report {
        /// Tickets of the last day in the report.
        #[arg(long, default_value_t = 500)]
        tickets: usize,
        /// Round trips to measure over, comma-separated (0: loopback).
        #[arg(long, value_delimiter = ',', default_value = "0,20,50")]
        rtt_ms: Vec<u64>,
    },
    /// `lifeline machines` and finding a machine by name, per fleet size:
    /// the relay reading the fleet (before) vs the store's index (now).
    Fleet {
        /// Fleet sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,64000")]
        machines: Vec<usize>,
    },
    /// A relay process under load: N simulated agents (real QUIC) that
    /// enroll, upload inventory and heartbeat, then M screen sessions.
    Load {
        /// Simulated agents.
        #[arg(long, default_value_t = 10000)]
        agents: usize,
        /// Concurrent 1080p typing sessions (real agent and viewer processes).
        #[arg(long, default_value_t = 10)]
        sessions: usize,
        /// Concurrent 1080p typing sessions at 60 fps from pre-encoded
        /// frames (simulated agents, real viewers): the relay's cost per
        /// session at full rate, which real agents on this machine cannot reach.
        #[arg(long, default_value_t = 50)]
        replayed_sessions: usize,
        /// Seconds the idle fleet is measured.
        #[arg(long, default_value_t = 30)]
        idle_secs: u64,
    },
    /// Screen sharing on a real Xvfb: Lifeline vs VNC (Tight, ZRLE) and x264.
    Screen {
        /// Seconds of painting per workload and tool.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Frames per second the painter draws (also Lifeline's fps ceiling).
        #[arg(long, default_value_t = 60)]
        fps: u32,
        /// Workloads, comma-separated (idle, typing, scrolling, drag, video); default all.
        #[arg(long, value_delimiter = ',')]
        workloads: Vec<String>,
        /// Synthetic frames per workload for the offline codec timings.
        #[arg(long, default_value_t = 300)]
        codec_frames: usize,
        /// Round trip in ms added between the agent and the relay (a
        /// delaying path on loopback); Lifeline alone then, no peers.
        #[arg(long, default_value_t = 0)]
        rtt_ms: u64,
        /// A link of this many Mbit/s each way between the agent and the
        /// relay (with --rtt-ms: a thin office uplink); Lifeline alone.
        #[arg(long)]
        link_mbit: Option<f64>,
    },
}

fn main() -> anyhow::Result<()> {
    // The agent and the console run in this process here: the same
    // allocator policy as their binaries.
    if !lifeline_net::memory::keep_freed_memory() {
        eprintln!("warning: the allocator policy of the agent and console binaries did not take");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFELINE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Ping { count } => {
            let report = rt.block_on(lifeline_tests::bench_ping::run(count))?;
            print!("{}", lifeline_tests::bench_ping::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Input { events, keys } => {
            let report = rt.block_on(lifeline_tests::bench_input::run(events, keys))?;
            print!("{}", lifeline_tests::bench_input::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Capture { passes } => {
            let rows = lifeline_tests::bench_capture::run(passes.clamp(1, 1_000_000))?;
            print!("{}", lifeline_tests::bench_capture::markdown(&rows));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&rows)?)?;
            }
        }
        Command::Inventory {
            agents,
            packages,
            fleet,
        } => {
            let report = rt.block_on(lifeline_tests::bench_inventory::run(
                agents, packages, fleet,
            ))?;
            print!("{}", lifeline_tests::bench_inventory::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Report { tickets, rtt_ms } => {
            let report = rt.block_on(lifeline_tests::bench_report::run(tickets, &rtt_ms))?;
            print!("{}", lifeline_tests::bench_report::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Fleet { machines } => {
            let report = rt.block_on(lifeline_tests::bench_fleet::run(&machines))?;
            print!("{}", lifeline_tests::bench_fleet::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Load {
            agents,
            sessions,
            replayed_sessions,
            idle_secs,
        } => {
            let report = rt.block_on(lifeline_tests::bench_load::run(
                agents,
                sessions,
                replayed_sessions,
                idle_secs,
            ))?;
            print!("{}", lifeline_tests::bench_load::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
        Command::Screen {
            seconds,
            fps,
            workloads,
            codec_frames,
            rtt_ms,
            link_mbit,
        } => {
            let opts = lifeline_tests::bench_screen::ScreenOptions {
                seconds,
                fps,
                workloads: lifeline_tests::bench_screen::parse_workloads(&workloads)?,
                codec_frames,
                rtt_ms,
                link_mbit,
            };
            let report = lifeline_tests::bench_screen::run(&rt, &opts)?;
            print!("{}", lifeline_tests::bench_screen::markdown(&report));
            if let Some(path) = cli.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
            }
        }
    }
    Ok(())
}
