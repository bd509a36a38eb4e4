//! Every parser on its fixture.

use lifeline_inventory::parse::cpu::{parse_cpuinfo, parse_meminfo};
use lifeline_inventory::parse::dpkg::parse_dpkg_status;
use lifeline_inventory::parse::os_release::parse_os_release;
use lifeline_inventory::parse::packages::{parse_flatpak_list, parse_rpm_query, parse_snap_list};
use lifeline_inventory::parse::power_supply::parse_battery_uevent;

use crate::util::read_fixture;

#[test]
fn dpkg_status_keeps_installed_packages_only() {
    let status = parse_dpkg_status(&read_fixture("root/var/lib/dpkg/status"));
    assert!(status.problems.is_empty(), "{:?}", status.problems);
    assert_eq!(status.packages.len(), 30);
    let names: Vec<&str> = status.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(!names.contains(&"teams"), "deinstalled package reported");
    assert!(
        !names.contains(&"linux-image-6.1.0-17-amd64"),
        "config-files package reported"
    );
    assert!(names.contains(&"thunderbird"), "held package missing");
    let openssl = status
        .packages
        .iter()
        .find(|p| p.name == "openssl")
        .unwrap();
    assert_eq!(openssl.version, "3.0.11-1~deb12u2");
    assert_eq!(openssl.arch.as_deref(), Some("amd64"));
    let office = status
        .packages
        .iter()
        .find(|p| p.name == "libreoffice-writer")
        .unwrap();
    assert_eq!(office.version, "4:7.4.7-1+deb12u1");
    let libc: Vec<_> = status
        .packages
        .iter()
        .filter(|p| p.name == "libc6")
        .collect();
    assert_eq!(
        libc.len(),
        2,
        "multi-arch package listed once per architecture"
    );
}

#[test]
fn dpkg_status_with_crlf_line_endings_parses_the_same() {
    let text = read_fixture("root/var/lib/dpkg/status");
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(
        parse_dpkg_status(&crlf).packages,
        parse_dpkg_status(&text).packages
    );
}

#[test]
fn truncated_dpkg_status_keeps_complete_paragraphs_and_reports_the_cut() {
    let status = parse_dpkg_status(&read_fixture("dpkg-status-truncated"));
    let names: Vec<&str> = status.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["adduser", "apt", "base-files", "bash"]);
    assert_eq!(status.problems.len(), 1);
    assert!(
        status.problems[0].message.contains("bsdutils"),
        "{}",
        status.problems[0]
    );
}

#[test]
fn os_release_of_five_distributions() {
    let cases = [
        (
            "debian-12",
            "debian",
            Some("12"),
            "Debian GNU/Linux 12 (bookworm)",
            None,
        ),
        (
            "ubuntu-24.04",
            "ubuntu",
            Some("24.04"),
            "Ubuntu 24.04 LTS",
            Some("debian"),
        ),
        (
            "fedora-40",
            "fedora",
            Some("40"),
            "Fedora Linux 40 (Workstation Edition)",
            None,
        ),
        (
            "alpine-3.20",
            "alpine",
            Some("3.20.0"),
            "Alpine Linux v3.20",
            None,
        ),
        (
            "rhel-9",
            "rhel",
            Some("9.4"),
            "Red Hat Enterprise Linux 9.4 (Plow)",
            Some("fedora"),
        ),
    ];
    for (file, id, version_id, pretty, id_like) in cases {
        let os = parse_os_release(&read_fixture(&format!("os-release/{file}")));
        assert_eq!(os.id.as_deref(), Some(id), "{file}");
        assert_eq!(os.version_id.as_deref(), version_id, "{file}");
        assert_eq!(os.pretty_name.as_deref(), Some(pretty), "{file}");
        assert_eq!(os.id_like.as_deref(), id_like, "{file}");
        assert!(os.name.is_some(), "{file}");
    }
    let alpine = parse_os_release(&read_fixture("os-release/alpine-3.20"));
    assert_eq!(alpine.version, None, "Alpine has no VERSION");
}

#[test]
fn rpm_query_output() {
    let list = parse_rpm_query(&read_fixture("tools/rpm-qa.txt"));
    assert!(list.problems.is_empty(), "{:?}", list.problems);
    assert_eq!(list.packages.len(), 13);
    let kernels = list
        .packages
        .iter()
        .filter(|p| p.name == "kernel-core")
        .count();
    assert_eq!(kernels, 2, "installonly packages keep every version");
    let pubkey = &list.packages[0];
    assert_eq!(
        (pubkey.name.as_str(), pubkey.arch.as_deref()),
        ("gpg-pubkey", None)
    );
    let bash = list.packages.iter().find(|p| p.name == "bash").unwrap();
    assert_eq!(bash.version, "5.2.26-3.fc40");
    assert_eq!(bash.install_date_unix, Some(1_714_990_152));
}

#[test]
fn flatpak_and_snap_lists() {
    let flatpak = parse_flatpak_list(&read_fixture("tools/flatpak-list.txt"));
    assert_eq!(flatpak.packages.len(), 4);
    assert_eq!(flatpak.packages[0].name, "org.mozilla.firefox");
    assert_eq!(flatpak.packages[0].arch.as_deref(), Some("x86_64"));
    let snap = parse_snap_list(&read_fixture("tools/snap-list.txt"));
    assert_eq!(snap.packages.len(), 7);
    let gtk = snap
        .packages
        .iter()
        .find(|p| p.name == "gtk-common-themes")
        .unwrap();
    assert_eq!(gtk.version, "0.1-81-g442e511");
}

#[test]
fn cpuinfo_x86_and_arm() {
    let x86 = parse_cpuinfo(&read_fixture("root/proc/cpuinfo"));
    assert_eq!(x86.vendor.as_deref(), Some("GenuineIntel"));
    assert_eq!(
        x86.model.as_deref(),
        Some("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz")
    );
    assert_eq!((x86.cores, x86.threads), (Some(4), 8));
    assert_eq!(x86.current_mhz, Some(1187));
    assert_eq!(x86.nominal_mhz, Some(2400));
    let arm = parse_cpuinfo(&read_fixture("proc/cpuinfo-arm64-rpi4"));
    assert_eq!(arm.vendor.as_deref(), Some("ARM"));
    assert_eq!(arm.model.as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
    assert_eq!((arm.cores, arm.threads), (None, 4));
}

#[test]
fn meminfo_totals() {
    let mem = parse_meminfo(&read_fixture("root/proc/meminfo"));
    assert_eq!(mem.mem_total, Some(16_107_176 * 1024));
    assert_eq!(mem.swap_total, Some(1_000_444 * 1024));
}

#[test]
fn battery_uevent() {
    let battery = parse_battery_uevent(
        "BAT0",
        &read_fixture("root/sys/class/power_supply/BAT0/uevent"),
    )
    .unwrap();
    assert_eq!(battery.design_capacity_mwh, Some(50_500));
    assert_eq!(battery.full_capacity_mwh, Some(44_210));
    assert_eq!(battery.cycle_count, Some(213));
    assert_eq!(battery.capacity_percent, Some(70));
    assert_eq!(battery.serial.as_deref(), Some("1234"));
    assert_eq!(battery.technology.as_deref(), Some("Li-poly"));
}
