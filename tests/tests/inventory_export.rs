//! An inventory export of a fleet larger than one message (8 MiB) leaves
//! the relay whole, a page at a time, as JSON and as CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::{ConsoleReply, ConsoleRequest, MAX_FRAME_LEN};
use lifeline_tests::{bench_inventory::populate_fleet, stage::Stage};

const MACHINES: usize = 60;
const PACKAGES: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_larger_than_a_message_exports_whole() {
    let mut stage = Stage::start_with(None, |s| populate_fleet(s, MACHINES, PACKAGES, true))
        .await
        .unwrap();
    // In one answer it does not fit, and the relay says so.
    let one = stage
        .admin
        .request(ConsoleRequest::InventoryExport { group: None })
        .await;
    if let Ok(ConsoleReply::Export(b)) = &one {
        panic!("{} bytes in one answer", b.len());
    }
    let why = one
        .expect_err("a whole-fleet answer over 8 MiB")
        .to_string();
    assert!(
        why.contains("more than the 8 MiB a message carries"),
        "{why}"
    );

    let mut json = Vec::new();
    let n = lifeline::inventory_cmd::export_to(&mut stage.admin, false, None, &mut json)
        .await
        .unwrap();
    assert_eq!(n, MACHINES);
    assert!(json.len() > MAX_FRAME_LEN, "{} bytes", json.len());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(rows.len(), MACHINES);
    for (m, row) in rows.iter().enumerate() {
        // Every machine once, in id order, with all its packages.
        assert_eq!(row["hostname"], format!("ws-{m:05}"));
        let packages = row["inventory"]["software"]["packages"].as_array().unwrap();
        assert_eq!(packages.len(), PACKAGES, "{}", row["hostname"]);
    }
    // Byte for byte what one pretty array of the rows prints.
    let whole = serde_json::to_string_pretty(&serde_json::Value::Array(rows)).unwrap() + "\n";
    assert!(json == whole.as_bytes());

    let mut csv = Vec::new();
    let n = lifeline::inventory_cmd::export_to(&mut stage.admin, true, None, &mut csv)
        .await
        .unwrap();
    assert_eq!(n, MACHINES);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + MACHINES * PACKAGES);
    assert_eq!(
        lines[0],
        "machine_id,hostname,group,os,cpu,memory_bytes,package,version,arch,source"
    );
    assert_eq!(csv.matches("machine_id,hostname").count(), 1);
    assert!(lines[1].contains(",ws-00000,") && lines.last().unwrap().contains(",ws-00059,"));
    eprintln!(
        "{MACHINES} machines × {PACKAGES} packages: {} bytes of JSON, {} of CSV",
        json.len(),
        csv.len()
    );

    // A group with no machine exports an empty list.
    let mut empty = Vec::new();
    let n = lifeline::inventory_cmd::export_to(
        &mut stage.admin,
        false,
        Some("nobody".into()),
        &mut empty,
    )
    .await
    .unwrap();
    assert_eq!((n, empty.as_slice()), (0, &b"[]\n"[..]));
    assert!(matches!(
        stage.admin.request(ConsoleRequest::ListMachines).await,
        Ok(ConsoleReply::Machines(_))
    ));
}
