//! Collection from the fixture machine, and partial inventories when sources break.

use lifeline_inventory::{Category, InventorySource, LinuxSource, PackageSource, collect};

use crate::util::{fixture, laptop, read_fixture};

#[test]
fn fixture_laptop_is_fully_described() {
    let inv = collect(&laptop());
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.collected_unix, 1_716_000_000);

    let sys = &inv.system;
    assert_eq!(sys.hostname.as_deref(), Some("workstation-042"));
    assert_eq!(
        sys.os.pretty_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    assert_eq!(sys.kernel.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(sys.arch.as_deref(), Some("x86_64"));
    assert_eq!(sys.boot_time_unix, Some(1_715_931_712));
    assert_eq!(sys.uptime_secs, Some(12_345));
    assert_eq!(sys.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        sys.logged_in_users,
        ["alice"],
        "greeter session is not a user"
    );

    let hw = &inv.hardware;
    assert_eq!(
        hw.cpu.model.as_deref(),
        Some("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz")
    );
    assert_eq!((hw.cpu.cores, hw.cpu.threads), (Some(4), Some(8)));
    assert_eq!(hw.cpu.max_frequency_mhz, Some(4200));
    assert_eq!(hw.memory_total, Some(16_107_176 * 1024));
    assert_eq!(hw.dmi.vendor.as_deref(), Some("LENOVO"));
    assert_eq!(
        hw.dmi.product_version.as_deref(),
        Some("ThinkPad T14 Gen 2i")
    );
    assert_eq!(hw.dmi.bios_version.as_deref(), Some("N34ET59W (1.59 )"));
    assert_eq!(hw.dmi.bios_date.as_deref(), Some("03/18/2024"));
    assert_eq!(hw.dmi.chassis_type.as_deref(), Some("Notebook"));
    assert_eq!(
        hw.dmi.serial, None,
        "root-only field is absent, not an error"
    );

    assert_eq!(hw.disks.len(), 1, "loop devices are not disks");
    let disk = &hw.disks[0];
    assert_eq!(disk.model.as_deref(), Some("SAMSUNG MZVL2512HCJQ-00BL7"));
    assert_eq!(disk.size_bytes, Some(1_000_215_216 * 512));
    assert_eq!(disk.rotational, Some(false));
    let mounts: Vec<&str> = disk
        .filesystems
        .iter()
        .map(|f| f.mount_point.as_str())
        .collect();
    assert_eq!(mounts, ["/", "/boot/efi"]);
    assert_eq!(hw.other_filesystems[0].mount_point, "/home");

    let names: Vec<&str> = hw
        .network_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["wlp0s20f3"], "veth pairs are left out");
    assert_eq!(
        hw.network_interfaces[0].ipv6,
        ["2001:db8:1::42/64", "fe80::a1b2:c3ff:fed4:e5f6/64"],
        "privacy address dropped"
    );

    assert_eq!(hw.gpus.len(), 1, "the audio device is not a GPU");
    let gpu = &hw.gpus[0];
    assert_eq!(
        (gpu.vendor_id.as_str(), gpu.device_id.as_str()),
        ("8086", "9a49")
    );
    assert_eq!(gpu.vendor_name.as_deref(), Some("Intel Corporation"));
    assert_eq!(
        gpu.device_name.as_deref(),
        Some("TigerLake-LP GT2 [Iris Xe Graphics]")
    );

    assert_eq!(hw.batteries.len(), 1);
    assert_eq!(hw.batteries[0].name, "BAT0");

    let packages = &inv.software.packages;
    assert_eq!(packages.len(), 30);
    let openssl = packages.iter().find(|p| p.name == "openssl").unwrap();
    assert_eq!(openssl.install_date_unix, Some(1_700_000_100));
    let libc_i386 = packages
        .iter()
        .find(|p| p.key() == "package:libc6:i386")
        .unwrap();
    assert_eq!(
        libc_i386.install_date_unix,
        Some(1_700_000_300),
        "name:arch.list is used"
    );
    assert_eq!(
        packages
            .iter()
            .find(|p| p.name == "bash")
            .unwrap()
            .install_date_unix,
        None
    );
}

#[test]
fn linux_source_reads_a_fixture_root() {
    let source = LinuxSource::with_root(fixture("root"));
    let inv = collect(&source);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.system.hostname.as_deref(), Some("workstation-042"));
    assert_eq!(inv.system.uptime_secs, Some(12_345));
    assert_eq!(inv.hardware.dmi.product.as_deref(), Some("20W0003FGE"));
    assert_eq!(
        inv.hardware.gpus[0].device_name.as_deref(),
        Some("TigerLake-LP GT2 [Iris Xe Graphics]")
    );
    let names: Vec<&str> = inv
        .hardware
        .network_interfaces
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["wlp0s20f3"],
        "without sysinfo, interfaces come from sysfs"
    );
    assert_eq!(
        inv.hardware.network_interfaces[0].mac.as_deref(),
        Some("a4:b1:c1:d4:e5:f6")
    );
    assert_eq!(inv.software.packages.len(), 30);
    let openssl = inv
        .software
        .packages
        .iter()
        .find(|p| p.name == "openssl")
        .unwrap();
    assert!(
        openssl.install_date_unix.is_some(),
        "mtime of the checked-out .list file"
    );
}

#[test]
fn unreadable_dpkg_database_gives_a_partial_inventory() {
    let inv = collect(&laptop().with_unreadable("var/lib/dpkg/status"));
    assert_eq!(inv.errors.len(), 1, "{:?}", inv.errors);
    let error = &inv.errors[0];
    assert_eq!(
        (error.category, error.source.as_str()),
        (Category::Software, "dpkg")
    );
    assert!(
        error.message.contains("permission denied"),
        "{}",
        error.message
    );
    assert!(inv.software.packages.is_empty());
    assert!(!inv.is_complete(Category::Software));
    assert!(inv.is_complete(Category::Hardware));
    assert_eq!(inv.hardware.memory_total, Some(16_107_176 * 1024));
    assert!(inv.system.os.id.is_some());
}

#[test]
fn truncated_dpkg_database_keeps_what_it_can() {
    let source = laptop().with_file("var/lib/dpkg/status", read_fixture("dpkg-status-truncated"));
    let inv = collect(&source);
    assert_eq!(inv.software.packages.len(), 4);
    assert_eq!(inv.errors.len(), 1);
    assert_eq!(inv.errors[0].source, "dpkg");
    assert!(
        inv.errors[0].message.contains("cut off"),
        "{}",
        inv.errors[0].message
    );
}

#[test]
fn missing_proc_files_and_os_release_are_reported() {
    let source = laptop()
        .without("proc/cpuinfo")
        .without("proc/meminfo")
        .without("etc/os-release");
    let inv = collect(&source);
    let mut sources: Vec<&str> = inv.errors.iter().map(|e| e.source.as_str()).collect();
    sources.sort();
    assert_eq!(sources, ["cpuinfo", "meminfo", "os-release"]);
    assert_eq!(inv.hardware.memory_total, None);
    assert_eq!(
        inv.hardware.cpu.max_frequency_mhz,
        Some(4200),
        "cpufreq still read"
    );
    assert_eq!(inv.software.packages.len(), 30);
}

#[test]
fn os_release_falls_back_to_usr_lib() {
    let source = laptop()
        .without("etc/os-release")
        .with_file("usr/lib/os-release", read_fixture("os-release/fedora-40"));
    let inv = collect(&source);
    assert!(inv.errors.is_empty(), "{:?}", inv.errors);
    assert_eq!(inv.system.os.id.as_deref(), Some("fedora"));
}

#[test]
fn package_tools_are_merged_and_their_failures_recorded() {
    let source = laptop()
        .with_file("var/lib/rpm/rpmdb.sqlite", "")
        .with_command("rpm", &read_fixture("tools/rpm-qa.txt"))
        .with_command("flatpak", &read_fixture("tools/flatpak-list.txt"))
        .with_failing_command("snap", "error: cannot communicate with server");
    let inv = collect(&source);
    let count = |s: PackageSource| {
        inv.software
            .packages
            .iter()
            .filter(|p| p.source == s)
            .count()
    };
    assert_eq!(
        (count(PackageSource::Dpkg), count(PackageSource::Rpm)),
        (30, 13)
    );
    assert_eq!(
        (count(PackageSource::Flatpak), count(PackageSource::Snap)),
        (4, 0)
    );
    assert_eq!(inv.errors.len(), 1, "{:?}", inv.errors);
    assert_eq!(inv.errors[0].source, "snap");
    assert!(
        inv.errors[0].message.contains("cannot communicate"),
        "{}",
        inv.errors[0].message
    );
    let sorted = inv
        .software
        .packages
        .windows(2)
        .all(|w| w[0].name <= w[1].name);
    assert!(sorted, "packages are sorted by name");
}

#[test]
fn rpm_database_without_rpm_tool_is_an_error() {
    let inv = collect(&laptop().with_file("var/lib/rpm/Packages", ""));
    assert_eq!(inv.errors.len(), 1);
    assert_eq!(inv.errors[0].source, "rpm");
}

#[test]
fn snap_list_is_used_when_snap_is_installed() {
    let inv = collect(&laptop().with_command("snap", &read_fixture("tools/snap-list.txt")));
    let firefox = inv
        .software
        .packages
        .iter()
        .find(|p| p.key() == "package:firefox")
        .unwrap();
    assert_eq!(firefox.version, "126.0-2");
}

#[test]
fn gpu_without_pci_ids_reports_hex_ids_and_driver() {
    let source = laptop().without("usr/share/misc/pci.ids").with_link(
        "sys/bus/pci/devices/0000:00:02.0/driver",
        "../../../bus/pci/drivers/i915",
    );
    let gpu = &collect(&source).hardware.gpus[0];
    assert_eq!(
        (gpu.vendor_name.as_ref(), gpu.device_name.as_ref()),
        (None, None)
    );
    assert_eq!(gpu.vendor_id, "8086");
    assert_eq!(gpu.driver.as_deref(), Some("i915"));
}

#[test]
fn timezone_from_localtime_link() {
    let source = laptop()
        .without("etc/timezone")
        .with_link("etc/localtime", "../usr/share/zoneinfo/America/New_York");
    assert_eq!(
        collect(&source).system.timezone.as_deref(),
        Some("America/New_York")
    );
}

#[test]
fn utmp_is_the_fallback_without_logind() {
    let mut utmp = vec![0u8; 384];
    utmp[0] = 7;
    utmp[44..47].copy_from_slice(b"bob");
    let source = laptop()
        .without("run/systemd/sessions")
        .with_file("var/run/utmp", utmp);
    assert_eq!(collect(&source).system.logged_in_users, ["bob"]);
}

#[test]
fn empty_machine_gives_errors_not_a_panic() {
    let source = lifeline_inventory::FakeSource::new();
    assert!(!source.exists("etc"));
    let inv = collect(&source);
    assert!(inv.software.packages.is_empty());
    assert_eq!(inv.errors.len(), 3, "{:?}", inv.errors);
}
