//! Hashes stay put on an unchanged machine; diffs name what changed.

use lifeline_inventory::{
    Battery, Category, Change, ChangeKind, Display, Inventory, category_hash, collect, diff,
    synthetic_inventory,
};
use proptest::prelude::*;

use crate::util::{laptop, read_fixture};

const EXTRA_PACKAGE: &str = "\nPackage: htop\nStatus: install ok installed\nPriority: optional\n\
Section: utils\nInstalled-Size: 434\nMaintainer: Daniel Lange <DLange@debian.org>\n\
Architecture: amd64\nVersion: 3.2.2-2\nDepends: libc6 (>= 2.34), libncursesw6 (>= 6)\n\
Description: interactive processes viewer\n Htop is an ncursed-based process viewer.\n";

fn hashes(inv: &Inventory) -> Vec<String> {
    Category::ALL
        .iter()
        .map(|&c| category_hash(inv, c))
        .collect()
}

#[test]
fn unchanged_machine_hashes_the_same_despite_volatile_fields() {
    let first = collect(&laptop());
    let mut later = collect(&laptop().with_now(1_716_086_400));
    later.system.uptime_secs = Some(99_999);
    later.system.boot_time_unix = later.system.boot_time_unix.map(|t| t + 1);
    later.hardware.cpu.current_frequency_mhz = Some(3_900);
    later.hardware.disks[0].filesystems[0].used_bytes += 1_000_000;
    later.hardware.batteries[0].capacity_percent = Some(12);
    later.hardware.batteries[0].status = Some("Charging".to_owned());
    later.software.packages.reverse();
    assert_eq!(hashes(&first), hashes(&later));
    assert_eq!(diff(&first, &later), []);
    assert_eq!(category_hash(&first, Category::Software).len(), 64);
}

#[test]
fn added_package_changes_only_the_software_hash() {
    let old = collect(&laptop());
    let status = read_fixture("root/var/lib/dpkg/status") + EXTRA_PACKAGE;
    let new = collect(&laptop().with_file("var/lib/dpkg/status", status));
    assert_eq!(old.hash(Category::System), new.hash(Category::System));
    assert_eq!(old.hash(Category::Hardware), new.hash(Category::Hardware));
    assert_ne!(old.hash(Category::Software), new.hash(Category::Software));
    assert_eq!(
        diff(&old, &new),
        [Change {
            category: Category::Software,
            kind: ChangeKind::Added,
            key: "package:htop:amd64".to_owned(),
            old: None,
            new: Some("3.2.2-2".to_owned()),
        }]
    );
}

#[test]
fn upgrade_and_removal_are_reported_with_versions() {
    let old = collect(&laptop());
    let status = read_fixture("root/var/lib/dpkg/status")
        .replace("Version: 3.0.11-1~deb12u2", "Version: 3.0.13-1~deb12u1")
        .replace(
            "Package: curl\nStatus: install ok installed",
            "Package: curl\nStatus: deinstall ok config-files",
        );
    let new = collect(&laptop().with_file("var/lib/dpkg/status", status));
    let changes = diff(&old, &new);
    let summary: Vec<(ChangeKind, &str, Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| (c.kind, c.key.as_str(), c.old.as_deref(), c.new.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                ChangeKind::Removed,
                "package:curl:amd64",
                Some("7.88.1-10+deb12u5"),
                None
            ),
            (
                ChangeKind::Changed,
                "package:libssl3:amd64",
                Some("3.0.11-1~deb12u2"),
                Some("3.0.13-1~deb12u1")
            ),
            (
                ChangeKind::Changed,
                "package:openssl:amd64",
                Some("3.0.11-1~deb12u2"),
                Some("3.0.13-1~deb12u1")
            ),
        ]
    );
}

#[test]
fn hardware_changes_are_keyed_by_field_and_entity() {
    let old = collect(&laptop());
    let mut new = old.clone();
    new.hardware.memory_total = Some(32 << 30);
    new.hardware.batteries.clear();
    new.hardware.dmi.serial = Some("PF3ABCDE".to_owned());
    new.set_displays(vec![Display {
        name: "HDMI-1".to_owned(),
        width_px: 2560,
        height_px: 1440,
        ..Display::default()
    }]);
    assert_eq!(old.hash(Category::Software), new.hash(Category::Software));
    let changes = diff(&old, &new);
    let keys: Vec<(ChangeKind, &str)> = changes.iter().map(|c| (c.kind, c.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (ChangeKind::Removed, "hardware.batteries[BAT0]"),
            (ChangeKind::Added, "hardware.displays[HDMI-1]"),
            (ChangeKind::Added, "hardware.dmi.serial"),
            (ChangeKind::Changed, "hardware.memory_total"),
        ]
    );
    let memory = changes
        .iter()
        .find(|c| c.key == "hardware.memory_total")
        .unwrap();
    assert_eq!(memory.old.as_deref(), Some("16493748224"));
    assert_eq!(memory.new.as_deref(), Some("34359738368"));
}

#[test]
fn system_changes_name_the_field() {
    let old = collect(&laptop());
    let new =
        collect(&laptop().with_file("etc/os-release", read_fixture("os-release/ubuntu-24.04")));
    let pretty = diff(&old, &new)
        .into_iter()
        .find(|c| c.key == "system.os.pretty_name")
        .unwrap();
    assert_eq!(pretty.new.as_deref(), Some("Ubuntu 24.04 LTS"));
    assert_eq!(pretty.category, Category::System);
}

#[test]
fn synthetic_inventories_are_deterministic() {
    assert_eq!(synthetic_inventory(7, 500), synthetic_inventory(7, 500));
    assert_ne!(
        synthetic_inventory(7, 500).hash(Category::Software),
        synthetic_inventory(8, 500).hash(Category::Software)
    );
    assert_eq!(synthetic_inventory(7, 500).software.packages.len(), 500);
}

fn mutate(inv: &mut Inventory, op: u8, n: usize) {
    let packages = &mut inv.software.packages;
    let i = n % packages.len().max(1);
    match op % 6 {
        0 if !packages.is_empty() => packages[i].version.push_str("+b1"),
        1 if !packages.is_empty() => {
            packages.remove(i);
        }
        2 => inv.hardware.memory_total = inv.hardware.memory_total.map(|m| m + 4096),
        3 => inv.hardware.batteries.push(Battery {
            name: format!("BAT{n}"),
            ..Battery::default()
        }),
        4 => inv.system.logged_in_users.push(format!("u{n}")),
        _ => inv.system.uptime_secs = Some(n as u64),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The uploader trusts the hash; the history trusts the diff: they must agree.
    #[test]
    fn hash_changes_exactly_when_diff_reports_something(seed in 0u64..1000, ops in proptest::collection::vec((0u8..6, 0usize..400), 0..4)) {
        let old = synthetic_inventory(seed, 50);
        let mut new = old.clone();
        for (op, n) in ops {
            mutate(&mut new, op, n);
        }
        let changes = diff(&old, &new);
        for category in Category::ALL {
            let changed = changes.iter().any(|c| c.category == category);
            prop_assert_eq!(old.hash(category) != new.hash(category), changed, "{:?}", category);
        }
    }
}
