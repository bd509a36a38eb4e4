//! Benchmarks and load generators for Lifeline, run by `lifeline-bench`.
//!
//! Everything here drives the real components in-process on 127.0.0.1: a
//! real relay (QUIC, store on disk), real agents and real console clients.

pub mod bench_fleet;
pub mod bench_input;
pub mod bench_inventory;
pub mod bench_load;
pub mod bench_ping;
pub mod bench_replay;
pub mod bench_report;
pub mod bench_screen;
pub mod lossy;
pub mod stage;
