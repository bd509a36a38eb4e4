//! The hardware category: CPU, memory, firmware, disks, network, GPUs, batteries.

use super::{Errors, read_optional, read_required};
use crate::model::{
    Battery, Category, CpuInfo, Disk, DmiInfo, Filesystem, Gpu, HardwareInfo, NetworkInterface,
};
use crate::parse::cpu::{parse_cpuinfo, parse_khz_to_mhz, parse_meminfo};
use crate::parse::dmi::{chassis_type_name, clean_dmi_value};
use crate::parse::net::{parse_if_inet6, parse_mac};
use crate::parse::pci::{is_display_class, parse_hex_id, pci_names};
use crate::parse::power_supply::parse_battery_uevent;
use crate::source::{InventorySource, PortableFacts};

/// Installed copies of the PCI id database, in the order distributions use them.
const PCI_IDS: [&str; 2] = ["usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"];

pub(super) fn collect_hardware(
    source: &dyn InventorySource,
    portable: &PortableFacts,
    errors: &mut Errors,
) -> HardwareInfo {
    let meminfo = read_required(
        source,
        errors,
        Category::Hardware,
        "meminfo",
        "proc/meminfo",
    )
    .map(|text| parse_meminfo(&text))
    .unwrap_or_default();
    let (disks, other_filesystems) = disks(source, portable);
    HardwareInfo {
        cpu: cpu(source, portable, errors),
        memory_total: meminfo.mem_total,
        swap_total: meminfo.swap_total,
        dmi: dmi(source),
        disks,
        other_filesystems,
        network_interfaces: network_interfaces(source, portable),
        displays: Vec::new(),
        gpus: gpus(source),
        batteries: batteries(source),
    }
}

fn cpu(source: &dyn InventorySource, portable: &PortableFacts, errors: &mut Errors) -> CpuInfo {
    let text = read_required(
        source,
        errors,
        Category::Hardware,
        "cpuinfo",
        "proc/cpuinfo",
    );
    let parsed = text.map(|t| parse_cpuinfo(&t)).unwrap_or_default();
    let max = read_optional(
        source,
        "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
    )
    .and_then(|t| parse_khz_to_mhz(&t));
    CpuInfo {
        vendor: parsed.vendor,
        model: parsed.model,
        cores: parsed.cores.or(portable.physical_cores),
        threads: (parsed.threads > 0).then_some(parsed.threads),
        max_frequency_mhz: max.or(parsed.nominal_mhz),
        current_frequency_mhz: parsed.current_mhz.or(portable.cpu_frequency_mhz),
    }
}

/// DMI fields one by one: serials and the UUID are root-only, and an agent
/// running as a user still reports the vendor and model.
fn dmi(source: &dyn InventorySource) -> DmiInfo {
    let field = |name: &str| {
        read_optional(source, &format!("sys/class/dmi/id/{name}")).and_then(|t| clean_dmi_value(&t))
    };
    DmiInfo {
        vendor: field("sys_vendor"),
        product: field("product_name"),
        product_version: field("product_version"),
        serial: field("product_serial"),
        uuid: field("product_uuid"),
        board_vendor: field("board_vendor"),
        board_name: field("board_name"),
        bios_vendor: field("bios_vendor"),
        bios_version: field("bios_version"),
        bios_date: field("bios_date"),
        chassis_type: read_optional(source, "sys/class/dmi/id/chassis_type")
            .and_then(|t| chassis_type_name(&t)),
    }
}

/// Physical block devices from `/sys/block` (virtual ones have no `device`
/// link), each with the mounted filesystems of its partitions.
fn disks(source: &dyn InventorySource, portable: &PortableFacts) -> (Vec<Disk>, Vec<Filesystem>) {
    let names = source.list_dir("sys/block").unwrap_or_default();
    let mut disks: Vec<Disk> = names
        .iter()
        .filter(|name| source.exists(&format!("sys/block/{name}/device")))
        .map(|name| {
            let attr = |file: &str| read_optional(source, &format!("sys/block/{name}/{file}"));
            Disk {
                name: name.clone(),
                model: attr("device/model").and_then(|t| crate::parse::non_empty(&t)),
                serial: attr("device/serial").and_then(|t| crate::parse::non_empty(&t)),
                size_bytes: attr("size")
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .and_then(|sectors| sectors.checked_mul(512)),
                removable: attr("removable").is_some_and(|t| t.trim() == "1"),
                rotational: attr("queue/rotational").map(|t| t.trim() == "1"),
                filesystems: Vec::new(),
            }
        })
        .collect();
    let mut other = Vec::new();
    for fs in &portable.filesystems {
        let dev = fs.device.rsplit('/').next().unwrap_or(&fs.device);
        let owner = disks
            .iter_mut()
            .find(|d| d.name == dev || source.exists(&format!("sys/block/{}/{dev}", d.name)));
        match owner {
            Some(disk) => disk.filesystems.push(fs.clone()),
            None => other.push(fs.clone()),
        }
    }
    (disks, other)
}

/// Interfaces from the portable facts (or sysfs when there are none), with IPv6
/// addresses from procfs so that rotating privacy addresses can be left out.
/// `veth*` pairs are container plumbing that appears and vanishes with containers.
fn network_interfaces(
    source: &dyn InventorySource,
    portable: &PortableFacts,
) -> Vec<NetworkInterface> {
    let mut interfaces = portable.network_interfaces.clone();
    if interfaces.is_empty() {
        interfaces = source
            .list_dir("sys/class/net")
            .unwrap_or_default()
            .into_iter()
            .filter(|name| name != "lo")
            .map(|name| NetworkInterface {
                mac: read_optional(source, &format!("sys/class/net/{name}/address"))
                    .and_then(|t| parse_mac(&t)),
                name,
                ..NetworkInterface::default()
            })
            .collect();
    }
    interfaces.retain(|i| !i.name.starts_with("veth"));
    if let Some(text) = read_optional(source, "proc/net/if_inet6") {
        let addresses = parse_if_inet6(&text);
        for interface in &mut interfaces {
            interface.ipv6 = addresses
                .iter()
                .filter(|a| a.interface == interface.name)
                .map(|a| a.address.clone())
                .collect();
        }
    }
    for interface in &mut interfaces {
        interface.ipv4.sort();
        interface.ipv6.sort();
    }
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    interfaces
}

/// Display controllers (PCI class 0x03) with names from pci.ids when installed.
fn gpus(source: &dyn InventorySource) -> Vec<Gpu> {
    let base = "sys/bus/pci/devices";
    let mut gpus: Vec<Gpu> = source
        .list_dir(base)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|slot| {
            let id = |file: &str| {
                read_optional(source, &format!("{base}/{slot}/{file}"))
                    .and_then(|t| parse_hex_id(&t))
            };
            let class = id("class").filter(|c| is_display_class(c))?;
            Some(Gpu {
                class,
                vendor_id: id("vendor")?,
                device_id: id("device")?,
                subsystem_vendor_id: id("subsystem_vendor").filter(|v| v != "0000"),
                subsystem_device_id: id("subsystem_device").filter(|v| v != "0000"),
                driver: source
                    .read_link(&format!("{base}/{slot}/driver"))
                    .ok()
                    .and_then(|target| target.rsplit('/').next().map(str::to_owned)),
                slot,
                ..Gpu::default()
            })
        })
        .collect();
    if gpus.is_empty() {
        return gpus;
    }
    if let Some(ids) = PCI_IDS.iter().find_map(|path| read_optional(source, path)) {
        for gpu in &mut gpus {
            (gpu.vendor_name, gpu.device_name) = pci_names(&ids, &gpu.vendor_id, &gpu.device_id);
        }
    }
    gpus
}

fn batteries(source: &dyn InventorySource) -> Vec<Battery> {
    let base = "sys/class/power_supply";
    source
        .list_dir(base)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let text = read_optional(source, &format!("{base}/{name}/uevent"))?;
            parse_battery_uevent(&name, &text)
        })
        .collect()
}
