//! Per-category content hashes over a canonical, volatile-free view, so that an
//! unchanged machine hashes the same on every collection and the uploader sends
//! only the categories that really changed.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Category, HardwareInfo, Inventory, SoftwareInfo, SystemInfo};

/// Bumped when the canonical form changes, so old and new agents never produce
/// equal hashes for different content.
const HASH_DOMAIN: &[u8] = b"lifeline-inventory/v1\n";

/// SHA-256 (lowercase hex) of one category's stable content.
///
/// Excluded: collection time, errors, uptime and boot time, current CPU clock,
/// used filesystem space, battery charge and status. Lists are sorted first, so
/// the order a source happens to list things in does not matter.
pub fn category_hash(inventory: &Inventory, category: Category) -> String {
    let bytes = match category {
        Category::System => canonical(&stable_system(&inventory.system)),
        Category::Hardware => canonical(&stable_hardware(&inventory.hardware)),
        Category::Software => canonical(&stable_software(&inventory.software)),
    };
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(category.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    hex::encode(hasher.finalize())
}

impl Inventory {
    /// [`category_hash`] of one category.
    pub fn hash(&self, category: Category) -> String {
        category_hash(self, category)
    }
}

/// JSON with struct fields in declaration order and no maps: deterministic.
fn canonical<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail (no maps with non-string keys);
    // an empty fallback still yields a stable hash instead of a panic.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn stable_system(system: &SystemInfo) -> SystemInfo {
    let mut stable = system.clone();
    stable.boot_time_unix = None;
    stable.uptime_secs = None;
    stable.logged_in_users.sort();
    stable.logged_in_users.dedup();
    stable
}

pub(crate) fn stable_hardware(hardware: &HardwareInfo) -> HardwareInfo {
    let mut stable = hardware.clone();
    stable.cpu.current_frequency_mhz = None;
    let settle_filesystems = |list: &mut Vec<crate::model::Filesystem>| {
        for fs in list.iter_mut() {
            fs.used_bytes = 0;
        }
        list.sort_by(|a, b| {
            a.mount_point
                .cmp(&b.mount_point)
                .then_with(|| a.device.cmp(&b.device))
        });
    };
    for disk in &mut stable.disks {
        settle_filesystems(&mut disk.filesystems);
    }
    settle_filesystems(&mut stable.other_filesystems);
    stable.disks.sort_by(|a, b| a.name.cmp(&b.name));
    for interface in &mut stable.network_interfaces {
        interface.ipv4.sort();
        interface.ipv6.sort();
    }
    stable
        .network_interfaces
        .sort_by(|a, b| a.name.cmp(&b.name));
    stable.displays.sort_by(|a, b| a.name.cmp(&b.name));
    stable.gpus.sort_by(|a, b| a.slot.cmp(&b.slot));
    for battery in &mut stable.batteries {
        battery.capacity_percent = None;
        battery.status = None;
    }
    stable.batteries.sort_by(|a, b| a.name.cmp(&b.name));
    stable
}

pub(crate) fn stable_software(software: &SoftwareInfo) -> SoftwareInfo {
    let mut stable = software.clone();
    stable.packages.sort_by(|a, b| {
        (&a.name, &a.arch, a.source, &a.version).cmp(&(&b.name, &b.arch, b.source, &b.version))
    });
    stable
}
