//! Prints how long collection and parsing take on this machine. Not a test: a
//! slow CI machine must not fail a build over a timing.
//!
//! `cargo run --release -p lifeline-inventory --example measure`

use std::time::Instant;

use lifeline_inventory::parse::dpkg::parse_dpkg_status;
use lifeline_inventory::{
    Category, LinuxSource, collect, diff, synthetic_dpkg_status, synthetic_inventory,
};

fn main() {
    let source = LinuxSource::new();
    let mut runs = Vec::new();
    let mut inventory = None;
    for _ in 0..5 {
        let start = Instant::now();
        inventory = Some(collect(&source));
        runs.push(start.elapsed());
    }
    let Some(inventory) = inventory else { return };
    runs.sort();
    println!(
        "collect (this machine): min {:?}, median {:?}, max {:?} over {} runs",
        runs[0],
        runs[runs.len() / 2],
        runs[runs.len() - 1],
        runs.len()
    );
    println!(
        "  {} packages, {} disks, {} interfaces, {} gpus, {} errors {:?}",
        inventory.software.packages.len(),
        inventory.hardware.disks.len(),
        inventory.hardware.network_interfaces.len(),
        inventory.hardware.gpus.len(),
        inventory.errors.len(),
        inventory.errors
    );
    let json = serde_json::to_vec(&inventory).map(|v| v.len()).unwrap_or(0);
    println!("  inventory JSON: {json} bytes");
    let again = collect(&source);
    for category in Category::ALL {
        let same = inventory.hash(category) == again.hash(category);
        println!("  {category:?} hash stable across collections: {same}");
    }
    if std::env::args().any(|a| a == "--json") {
        let mut shown = inventory.clone();
        shown.software.packages.truncate(3);
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
    }

    let text = synthetic_dpkg_status(1, 2000);
    let start = Instant::now();
    let parsed = parse_dpkg_status(&text);
    println!(
        "parse_dpkg_status: {} bytes, {} installed packages in {:?}",
        text.len(),
        parsed.packages.len(),
        start.elapsed()
    );

    let old = synthetic_inventory(1, 2000);
    let mut new = old.clone();
    new.software.packages.truncate(1990);
    let start = Instant::now();
    let hash = old.hash(Category::Software);
    let hashed = start.elapsed();
    let start = Instant::now();
    let changes = diff(&old, &new);
    println!(
        "2000-package inventory: software hash {:?} ({}…), diff {:?} ({} changes)",
        hashed,
        &hash[..12],
        start.elapsed(),
        changes.len()
    );
}
