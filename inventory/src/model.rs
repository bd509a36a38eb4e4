//! The inventory data model: what the agent reports about one machine.
//!
//! Every type here is plain data (serde, `Clone`, `PartialEq`, `Debug`). Fields that a
//! machine may not expose are `Option`s: "unknown" is a normal answer on a laptop
//! without root or a VM without DMI tables, never an error.

use serde::{Deserialize, Serialize};

/// One of the three parts of an inventory; the uploader sends only the ones whose
/// [`crate::category_hash`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Host name, OS, kernel, time zone, users.
    System,
    /// CPU, memory, DMI, disks, network, displays, GPUs, batteries.
    Hardware,
    /// Installed packages from every package manager found.
    Software,
}

impl Category {
    /// All categories, in the order they are hashed and diffed.
    pub const ALL: [Category; 3] = [Category::System, Category::Hardware, Category::Software];

    /// The lowercase name used in change keys ("hardware.memory_total").
    pub fn as_str(self) -> &'static str {
        match self {
            Category::System => "system",
            Category::Hardware => "hardware",
            Category::Software => "software",
        }
    }
}

/// A complete snapshot of one machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// When the snapshot was taken, seconds since the Unix epoch. Not hashed.
    pub collected_unix: u64,
    /// Operating system facts.
    pub system: SystemInfo,
    /// Hardware facts.
    pub hardware: HardwareInfo,
    /// Installed software.
    pub software: SoftwareInfo,
    /// Sources that failed or were only partly readable; the rest of the
    /// inventory is still filled in. Not hashed.
    pub errors: Vec<SourceError>,
}

impl Inventory {
    /// Replaces the display list. Displays come from the caller (the capture
    /// backend knows the X screens), not from the collection sources.
    pub fn set_displays(&mut self, displays: Vec<Display>) {
        self.hardware.displays = displays;
    }

    /// True when no source of `category` reported an error, so the category can be
    /// uploaded as a complete replacement of what the relay holds.
    pub fn is_complete(&self, category: Category) -> bool {
        !self.errors.iter().any(|e| e.category == category)
    }
}

/// A source that could not be read, or was only partly understood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceError {
    /// The category the source feeds.
    pub category: Category,
    /// Short source name: "dpkg", "rpm", "os-release", "cpuinfo", …
    pub source: String,
    /// What went wrong, for a person to read.
    pub message: String,
}

/// Operating system facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// Host name as the kernel knows it.
    pub hostname: Option<String>,
    /// Distribution identity from os-release.
    pub os: OsRelease,
    /// Kernel release ("6.1.0-18-amd64").
    pub kernel: Option<String>,
    /// CPU architecture as the OS reports it ("x86_64", "aarch64").
    pub arch: Option<String>,
    /// Boot time, seconds since the Unix epoch. Volatile: it jitters by a second
    /// between reads, so it is not hashed.
    pub boot_time_unix: Option<u64>,
    /// Seconds since boot. Volatile, not hashed.
    pub uptime_secs: Option<u64>,
    /// IANA time zone name ("Europe/Berlin").
    pub timezone: Option<String>,
    /// Distinct names of users with an open session, sorted.
    pub logged_in_users: Vec<String>,
}

/// The fields of os-release(5) that identify a distribution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `NAME` ("Debian GNU/Linux").
    pub name: Option<String>,
    /// `VERSION` ("12 (bookworm)").
    pub version: Option<String>,
    /// `ID` ("debian").
    pub id: Option<String>,
    /// `ID_LIKE` ("rhel centos fedora").
    pub id_like: Option<String>,
    /// `VERSION_ID` ("12").
    pub version_id: Option<String>,
    /// `PRETTY_NAME` ("Debian GNU/Linux 12 (bookworm)").
    pub pretty_name: Option<String>,
}

/// Hardware facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareInfo {
    /// Processor.
    pub cpu: CpuInfo,
    /// Physical memory in bytes (`MemTotal`).
    pub memory_total: Option<u64>,
    /// Swap space in bytes (`SwapTotal`).
    pub swap_total: Option<u64>,
    /// Firmware identity from `/sys/class/dmi/id`.
    pub dmi: DmiInfo,
    /// Block devices with the filesystems mounted from them.
    pub disks: Vec<Disk>,
    /// Mounted filesystems that belong to no physical disk (LVM, network, overlay).
    pub other_filesystems: Vec<Filesystem>,
    /// Network interfaces except loopback.
    pub network_interfaces: Vec<NetworkInterface>,
    /// Monitors, filled by the caller with [`Inventory::set_displays`].
    pub displays: Vec<Display>,
    /// Display controllers on the PCI bus.
    pub gpus: Vec<Gpu>,
    /// Batteries, on machines that have them.
    pub batteries: Vec<Battery>,
}

/// Processor facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// Vendor string ("GenuineIntel", "AuthenticAMD").
    pub vendor: Option<String>,
    /// Model name ("Intel(R) Core(TM) i7-1165G7 @ 2.80GHz").
    pub model: Option<String>,
    /// Physical cores across all sockets.
    pub cores: Option<u32>,
    /// Logical processors (hardware threads).
    pub threads: Option<u32>,
    /// Maximum clock in MHz from cpufreq, or else the nominal clock printed in the
    /// model name; stable, hashed.
    pub max_frequency_mhz: Option<u32>,
    /// Clock at collection time in MHz. Volatile, not hashed.
    pub current_frequency_mhz: Option<u32>,
}

/// Firmware identity. A field the kernel hides from non-root users (serials) is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmiInfo {
    /// `sys_vendor` ("LENOVO").
    pub vendor: Option<String>,
    /// `product_name` ("20XWCTO1WW").
    pub product: Option<String>,
    /// `product_version` ("ThinkPad X1 Carbon Gen 9").
    pub product_version: Option<String>,
    /// `product_serial`; root only.
    pub serial: Option<String>,
    /// `product_uuid`; root only.
    pub uuid: Option<String>,
    /// `board_vendor`.
    pub board_vendor: Option<String>,
    /// `board_name`.
    pub board_name: Option<String>,
    /// `bios_vendor`.
    pub bios_vendor: Option<String>,
    /// `bios_version`.
    pub bios_version: Option<String>,
    /// `bios_date` as the firmware writes it ("05/16/2023").
    pub bios_date: Option<String>,
    /// SMBIOS chassis type by name ("Notebook", "Desktop").
    pub chassis_type: Option<String>,
}

/// A block device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// Kernel name ("nvme0n1", "sda").
    pub name: String,
    /// Model string from sysfs.
    pub model: Option<String>,
    /// Serial number from sysfs, when readable.
    pub serial: Option<String>,
    /// Capacity in bytes.
    pub size_bytes: Option<u64>,
    /// Removable media (USB sticks, card readers).
    pub removable: bool,
    /// Spinning disk; `None` when the kernel does not say.
    pub rotational: Option<bool>,
    /// Filesystems mounted from this disk's partitions.
    pub filesystems: Vec<Filesystem>,
}

/// A mounted filesystem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    /// Device it is mounted from ("/dev/nvme0n1p2").
    pub device: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Filesystem type ("ext4", "btrfs").
    pub fs_type: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Bytes in use. Volatile, not hashed.
    pub used_bytes: u64,
}

/// A network interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    /// Interface name ("enp0s31f6", "wlp2s0").
    pub name: String,
    /// Hardware address, lowercase colon form; `None` for interfaces without one.
    pub mac: Option<String>,
    /// IPv4 addresses with prefix ("192.168.1.20/24"), sorted.
    pub ipv4: Vec<String>,
    /// IPv6 addresses with prefix, sorted.
    pub ipv6: Vec<String>,
}

/// A monitor, as the caller's display backend reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    /// Output name ("eDP-1", "HDMI-1").
    pub name: String,
    /// Manufacturer from EDID, when known.
    pub manufacturer: Option<String>,
    /// Model from EDID, when known.
    pub model: Option<String>,
    /// Serial from EDID, when known.
    pub serial: Option<String>,
    /// Width in pixels.
    pub width_px: u32,
    /// Height in pixels.
    pub height_px: u32,
    /// Refresh rate, rounded to whole hertz.
    pub refresh_hz: Option<u32>,
    /// The primary output.
    pub primary: bool,
}

/// A display controller on the PCI bus (class 0x03xxxx).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// PCI address ("0000:00:02.0").
    pub slot: String,
    /// Class code as six hex digits ("030000").
    pub class: String,
    /// Vendor id, four lowercase hex digits ("8086").
    pub vendor_id: String,
    /// Device id, four lowercase hex digits.
    pub device_id: String,
    /// Subsystem vendor id, when the device has one.
    pub subsystem_vendor_id: Option<String>,
    /// Subsystem device id, when the device has one.
    pub subsystem_device_id: Option<String>,
    /// Vendor name from pci.ids, when the file is installed and knows the id.
    pub vendor_name: Option<String>,
    /// Device name from pci.ids, when the file is installed and knows the id.
    pub device_name: Option<String>,
    /// Kernel driver bound to the device ("i915", "amdgpu", "nvidia").
    pub driver: Option<String>,
}

/// A battery from `/sys/class/power_supply`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Battery {
    /// Supply name ("BAT0").
    pub name: String,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Chemistry ("Li-ion", "Li-poly").
    pub technology: Option<String>,
    /// Capacity when new, in mWh.
    pub design_capacity_mwh: Option<u64>,
    /// Capacity when fully charged today, in mWh; with the design capacity this
    /// gives the wear a technician wants to see.
    pub full_capacity_mwh: Option<u64>,
    /// Charge cycles, when the firmware counts them.
    pub cycle_count: Option<u32>,
    /// Charge level in percent. Volatile, not hashed.
    pub capacity_percent: Option<u8>,
    /// "Charging", "Discharging", "Full". Volatile, not hashed.
    pub status: Option<String>,
}

/// Installed software.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareInfo {
    /// Packages from every package manager found, sorted by (name, arch, source).
    pub packages: Vec<Package>,
}

/// Where a package came from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PackageSource {
    /// Debian/Ubuntu `dpkg` database.
    #[default]
    Dpkg,
    /// Red Hat/Fedora/SUSE `rpm` database.
    Rpm,
    /// A Flatpak application.
    Flatpak,
    /// A Snap.
    Snap,
}

impl PackageSource {
    /// The lowercase name ("dpkg").
    pub fn as_str(self) -> &'static str {
        match self {
            PackageSource::Dpkg => "dpkg",
            PackageSource::Rpm => "rpm",
            PackageSource::Flatpak => "flatpak",
            PackageSource::Snap => "snap",
        }
    }
}

/// One installed package.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Package name (dpkg/rpm name, Flatpak application id, Snap name).
    pub name: String,
    /// Version as the package manager prints it (dpkg `[epoch:]upstream[-revision]`,
    /// rpm `version-release`).
    pub version: String,
    /// Architecture ("amd64", "x86_64", "all", "noarch"); `None` where the
    /// package manager does not say (Snap).
    pub arch: Option<String>,
    /// Package manager.
    pub source: PackageSource,
    /// Install or last upgrade time, seconds since the Unix epoch, where known.
    pub install_date_unix: Option<u64>,
}

impl Package {
    /// The diff key: `package:NAME` or `package:NAME:ARCH`, the way dpkg names a
    /// multi-arch package.
    pub fn key(&self) -> String {
        match &self.arch {
            Some(arch) => format!("package:{}:{}", self.name, arch),
            None => format!("package:{}", self.name),
        }
    }
}
