//! Deterministic made-up inventories and dpkg databases for load tests and
//! benchmarks: the same seed always gives the same machine.

use std::fmt::Write as _;

use crate::model::{
    CpuInfo, Disk, DmiInfo, Filesystem, HardwareInfo, Inventory, NetworkInterface, OsRelease,
    Package, PackageSource, SoftwareInfo, SystemInfo,
};

/// SplitMix64: tiny, seedable, good enough to vary names and versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const STEMS: &[&str] = &[
    "lib", "python3-", "gir1.2-", "fonts-", "x11-", "node-", "golang-", "perl-", "ruby-", "gnome-",
];
const ARCHES: &[&str] = &["amd64", "amd64", "amd64", "all", "i386"];

fn package(rng: &mut Rng, index: usize) -> Package {
    let stem = STEMS[rng.below(STEMS.len() as u64) as usize];
    let epoch = if rng.below(20) == 0 { "1:" } else { "" };
    Package {
        name: format!("{stem}pkg{index:05}"),
        version: format!(
            "{epoch}{}.{}.{}-{}",
            rng.below(10),
            rng.below(30),
            rng.below(100),
            rng.below(5) + 1
        ),
        arch: Some(ARCHES[rng.below(ARCHES.len() as u64) as usize].to_owned()),
        source: PackageSource::Dpkg,
        install_date_unix: Some(1_600_000_000 + rng.below(100_000_000)),
    }
}

/// A plausible Debian desktop with `n_packages` packages, varied by `seed`.
pub fn synthetic_inventory(seed: u64, n_packages: usize) -> Inventory {
    let mut rng = Rng(seed);
    let host = rng.below(1_000_000);
    Inventory {
        collected_unix: 1_700_000_000 + rng.below(10_000_000),
        system: SystemInfo {
            hostname: Some(format!("ws-{host:06}")),
            os: OsRelease {
                name: Some("Debian GNU/Linux".to_owned()),
                version: Some("12 (bookworm)".to_owned()),
                id: Some("debian".to_owned()),
                id_like: None,
                version_id: Some("12".to_owned()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
            },
            kernel: Some(format!("6.1.0-{}-amd64", rng.below(30))),
            arch: Some("x86_64".to_owned()),
            boot_time_unix: Some(1_700_000_000),
            uptime_secs: Some(rng.below(1_000_000)),
            timezone: Some("Europe/Berlin".to_owned()),
            logged_in_users: vec![format!("user{}", rng.below(1000))],
        },
        hardware: synthetic_hardware(&mut rng),
        software: SoftwareInfo {
            packages: (0..n_packages).map(|i| package(&mut rng, i)).collect(),
        },
        errors: Vec::new(),
    }
}

fn synthetic_hardware(rng: &mut Rng) -> HardwareInfo {
    let mac = rng.next().to_be_bytes();
    HardwareInfo {
        cpu: CpuInfo {
            vendor: Some("GenuineIntel".to_owned()),
            model: Some("Intel(R) Core(TM) i5-1135G7 @ 2.40GHz".to_owned()),
            cores: Some(4),
            threads: Some(8),
            max_frequency_mhz: Some(4200),
            current_frequency_mhz: Some(400 + rng.below(3800) as u32),
        },
        memory_total: Some((8 + 8 * rng.below(4)) << 30),
        swap_total: Some(1 << 30),
        dmi: DmiInfo {
            vendor: Some("LENOVO".to_owned()),
            product: Some("20W0003FGE".to_owned()),
            serial: Some(format!("PF{:06X}", rng.below(0xFF_FFFF))),
            chassis_type: Some("Notebook".to_owned()),
            ..DmiInfo::default()
        },
        disks: vec![Disk {
            name: "nvme0n1".to_owned(),
            model: Some("SAMSUNG MZVLB512HBJQ-000L7".to_owned()),
            size_bytes: Some(512_110_190_592),
            rotational: Some(false),
            filesystems: vec![Filesystem {
                device: "/dev/nvme0n1p2".to_owned(),
                mount_point: "/".to_owned(),
                fs_type: "ext4".to_owned(),
                total_bytes: 490_000_000_000,
                used_bytes: rng.below(490_000_000_000),
            }],
            ..Disk::default()
        }],
        network_interfaces: vec![NetworkInterface {
            name: "wlp0s20f3".to_owned(),
            mac: Some(format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                mac[0] & 0xfe,
                mac[1],
                mac[2],
                mac[3],
                mac[4],
                mac[5]
            )),
            ipv4: vec![format!(
                "10.{}.{}.{}/24",
                rng.below(256),
                rng.below(256),
                rng.below(254) + 1
            )],
            ipv6: Vec::new(),
        }],
        ..HardwareInfo::default()
    }
}

/// A dpkg status file with `n_packages` installed packages (plus every tenth a
/// removed one left with its configuration), for measuring the parser.
pub fn synthetic_dpkg_status(seed: u64, n_packages: usize) -> String {
    let mut rng = Rng(seed);
    let mut out = String::with_capacity(n_packages * 700);
    for i in 0..n_packages {
        let p = package(&mut rng, i);
        let status = if i % 10 == 9 {
            "deinstall ok config-files"
        } else {
            "install ok installed"
        };
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "Package: {}\nStatus: {status}\nPriority: optional\nSection: libs\nInstalled-Size: {}\n\
             Maintainer: Debian Developers <debian-devel@lists.debian.org>\nArchitecture: {}\n\
             Multi-Arch: same\nVersion: {}\nDepends: libc6 (>= 2.34), libgcc-s1 (>= 3.0)\n\
             Description: synthetic package number {i}\n This long description spans\n several lines\n .\n \
             like real ones do.\n\n",
            p.name,
            rng.below(10_000),
            p.arch.as_deref().unwrap_or("all"),
            p.version,
        );
    }
    out
}
