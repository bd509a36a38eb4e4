//! A relay that attacks the sessions it carries, for the tests that show
//! end-to-end encryption catches it: `--flip-at N` flips one bit of byte N
//! of every agent-to-console stream, `--swap-key` hands consoles a key of
//! its own instead of the machine's, `--swap-key-when FILE` does so while
//! FILE exists, `--pose-as-technician-when FILE` offers machines a
//! technician key of its own (keeping the technician's approval) while FILE
//! exists. Otherwise it is `lifeline-relay serve`
//! (same data dir, same listen address, same first line on stdout).

use lifeline_relay::{datadir::DataDir, server::Relay};
use std::sync::atomic::Ordering;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    lifeline_net::files::init_logging();
    let mut data_dir = None;
    let mut listen = None;
    let mut flip_at = None;
    let mut swap_key = false;
    let mut pose_when: Option<std::path::PathBuf> = None;
    let mut swap_when: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = args.next(),
            "--listen" => listen = args.next(),
            "--flip-at" => flip_at = args.next().map(|n| n.parse::<u64>()).transpose()?,
            "--swap-key" => swap_key = true,
            "--pose-as-technician-when" => pose_when = args.next().map(Into::into),
            "--swap-key-when" => swap_when = args.next().map(Into::into),
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    let dd = DataDir::new(data_dir.ok_or_else(|| anyhow::anyhow!("--data-dir is required"))?);
    let listen = listen
        .ok_or_else(|| anyhow::anyhow!("--listen is required"))?
        .parse()?;
    let (fp, _) = dd.init()?;
    let relay = Relay::bind(&dd, listen)?;
    if let Some(at) = flip_at {
        relay.ctx.tamper.flip_byte_at.store(at, Ordering::Relaxed);
    }
    relay
        .ctx
        .tamper
        .swap_machine_key
        .store(swap_key, Ordering::Relaxed);
    if let Some(file) = pose_when {
        follow_file(file, relay.ctx.clone(), |c| &c.tamper.swap_technician_key);
    }
    if let Some(file) = swap_when {
        follow_file(file, relay.ctx.clone(), |c| &c.tamper.swap_machine_key);
    }
    println!("lifeline-relay listening on {}", relay.local_addr()?);
    println!("fingerprint: {fp}");
    relay
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// Keeps a tamper switch on while `file` exists.
fn follow_file(
    file: std::path::PathBuf,
    ctx: std::sync::Arc<lifeline_relay::server::Ctx>,
    switch: fn(&lifeline_relay::server::Ctx) -> &std::sync::atomic::AtomicBool,
) {
    tokio::spawn(async move {
        loop {
            switch(&ctx).store(file.exists(), Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
}
