//! An inventory export of a fleet larger than one message (8 MiB) leaves
//! the relay whole, a page at a time, as JSON and as CSV.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline_proto::{ConsoleReply, ConsoleRequest, MAX_FRAME_LEN};
use lifeline_relay::store::Store;
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

/// `lifeline inventory export --format json [--group GROUP]`: how many
/// machines, and the JSON.
async fn export(c: &mut lifeline::client::Client, group: Option<&str>) -> (usize, Vec<u8>) {
    let mut out = Vec::new();
    let n = lifeline::inventory_cmd::export_to(c, false, group.map(String::from), &mut out)
        .await
        .unwrap();
    (n, out)
}

/// An export covers the machines its reader sees: a technician of the
/// finance group exports finance's, and nothing of a group outside hers;
/// the audit counts what each export covered. The 150 machines of 40 KB
/// take several pages of about 50, the last one also holding 100 machines
/// with no inventory yet: each page is read from the store 64 machines at
/// a time from where the last ended, every machine once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_covers_what_its_reader_sees() {
    const FLEET: usize = 150;
    const NEW: usize = 100;
    let mut stage = Stage::start_with(None, |s| {
        populate_fleet(s, FLEET, 500, true)?;
        for i in 0..NEW {
            let info = lifeline_proto::MachineInfo {
                hostname: format!("new-{i:03}"),
                os: "Debian 12".into(),
                arch: "x86_64".into(),
                agent_version: "1.0".into(),
            };
            // populate_fleet's token; ids after every other.
            s.enroll(&[42; 32], &format!("zz-{i:03}"), &[0; 32], &info, 0)?;
        }
        lifeline_tests::stage::two_groups(s, "tina", "tina-password").map(drop)
    })
    .await
    .unwrap();
    let hosts = |json: &[u8]| -> Vec<String> {
        let rows: Vec<serde_json::Value> = serde_json::from_slice(json).unwrap();
        rows.iter()
            .map(|r| r["hostname"].as_str().unwrap().to_string())
            .collect()
    };
    // The admin: every machine once, by id (the fleet's hex ids before
    // "finance-machine", "ops-machine" and the new "zz-…").
    let (n, json) = export(&mut stage.admin, None).await;
    let mut want: Vec<String> = (0..FLEET).map(|m| format!("ws-{m:05}")).collect();
    want.extend(["finance-pc".into(), "ops-pc".into()]);
    want.extend((0..NEW).map(|i| format!("new-{i:03}")));
    assert_eq!((n, hosts(&json)), (FLEET + 2 + NEW, want));
    let (n, json) = export(&mut stage.admin, Some("ops")).await;
    assert_eq!((n, hosts(&json)), (1, vec!["ops-pc".to_string()]));
    // Page by page: pages end inside and at the edges of the store's
    // reads of 64, each starting after the machine the last one named.
    let (mut after, mut pages, mut ids) = (None, 0, Vec::new());
    loop {
        let ask = ConsoleRequest::InventoryExportPage { group: None, after };
        let ConsoleReply::ExportPage { rows, next } = stage.admin.request(ask).await.unwrap()
        else {
            panic!("not a page");
        };
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&rows).unwrap();
        ids.extend(
            rows.iter()
                .map(|r| r["machine_id"].as_str().unwrap().to_string()),
        );
        assert_eq!(next.as_ref(), next.as_ref().and(ids.last()));
        pages += 1;
        after = next;
        if after.is_none() {
            break;
        }
    }
    assert!(pages >= 3, "{pages} pages");
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((ids.len(), &sorted), (FLEET + 2 + NEW, &ids));

    // The technician: her group's machine, with no inventory yet.
    let mut tina = stage.login("tina", "tina-password").await.unwrap();
    let (n, json) = export(&mut tina, None).await;
    assert_eq!((n, hosts(&json)), (1, vec!["finance-pc".to_string()]));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(rows[0]["inventory"], serde_json::Value::Null);
    assert_eq!(rows[0]["group"], "finance");
    let (n, json) = export(&mut tina, Some("ops")).await;
    assert_eq!((n, json.as_slice()), (0, &b"[]\n"[..]));

    // The audit says who exported what, and how many machines.
    let reply = stage
        .admin
        .request(ConsoleRequest::Audit {
            since_unix: 0,
            actor: None,
        })
        .await
        .unwrap();
    let ConsoleReply::Audit(entries) = reply else {
        panic!("not the audit");
    };
    let exports: Vec<(String, String, String)> = entries
        .iter()
        .filter(|e| e.action == "inventory-exported")
        .map(|e| (e.actor.clone(), e.target.clone(), e.details.clone()))
        .collect();
    let e = |a: &str, t: &str, d: &str| (a.to_string(), t.to_string(), d.to_string());
    assert_eq!(
        exports,
        [
            e(
                "bench-admin",
                "all",
                &format!("{} machines", FLEET + 2 + NEW)
            ),
            e("bench-admin", "ops", "1 machines"),
            e(
                "bench-admin",
                "all",
                &format!("{} machines", FLEET + 2 + NEW)
            ),
            e("tina", "all", "1 machines"),
            e("tina", "ops", "0 machines"),
        ]
    );
}
