//! Fixture paths and a standard fake machine.

use std::path::PathBuf;

use lifeline_inventory::{FakeSource, Filesystem, NetworkInterface, PortableFacts};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn read_fixture(path: &str) -> String {
    std::fs::read_to_string(fixture(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The fixture laptop: the `root/` tree plus what sysinfo would have said.
pub fn laptop() -> FakeSource {
    FakeSource::from_dir(&fixture("root"))
        .expect("fixture tree tests/fixtures/root")
        .with_now(1_716_000_000)
        .with_mtime("var/lib/dpkg/info/openssl.list", 1_700_000_100)
        .with_mtime("var/lib/dpkg/info/libc6:amd64.list", 1_700_000_200)
        .with_mtime("var/lib/dpkg/info/libc6:i386.list", 1_700_000_300)
        .with_portable(PortableFacts {
            arch: Some("x86_64".to_owned()),
            uptime_secs: Some(12_345),
            filesystems: vec![
                Filesystem {
                    device: "/dev/nvme0n1p2".to_owned(),
                    mount_point: "/".to_owned(),
                    fs_type: "ext4".to_owned(),
                    total_bytes: 502_000_000_000,
                    used_bytes: 123_000_000_000,
                },
                Filesystem {
                    device: "/dev/nvme0n1p1".to_owned(),
                    mount_point: "/boot/efi".to_owned(),
                    fs_type: "vfat".to_owned(),
                    total_bytes: 536_000_000,
                    used_bytes: 6_000_000,
                },
                Filesystem {
                    device: "/dev/mapper/vg-home".to_owned(),
                    mount_point: "/home".to_owned(),
                    fs_type: "ext4".to_owned(),
                    total_bytes: 200_000_000_000,
                    used_bytes: 50_000_000_000,
                },
            ],
            network_interfaces: vec![
                NetworkInterface {
                    name: "wlp0s20f3".to_owned(),
                    mac: Some("a4:b1:c1:d4:e5:f6".to_owned()),
                    ipv4: vec!["192.168.178.42/24".to_owned()],
                    ipv6: vec!["2001:db8:1::1122:3344:aabb:ccdd/64".to_owned()],
                },
                NetworkInterface {
                    name: "veth12ab34".to_owned(),
                    mac: Some("02:42:ac:11:00:02".to_owned()),
                    ..NetworkInterface::default()
                },
            ],
            ..PortableFacts::default()
        })
}
