//! Collecting and uploading inventory: hashes first, categories on request.

use lifeline_inventory::{Category, Display, Inventory, LinuxSource, category_hash, collect};
use lifeline_proto::inventory::{CategoryHash, InventoryData, InventoryHashes};
use std::path::PathBuf;

/// Where inventory comes from: the real machine, or a file tree laid out
/// like one (tests, and auditing a mounted disk image).
#[derive(Clone, Debug, Default)]
pub struct InventoryConfig {
    /// `None`: this machine, with package tools and sysinfo. `Some(dir)`:
    /// only the files under `dir`.
    pub root: Option<PathBuf>,
}

impl InventoryConfig {
    /// Collects now (blocking: reads files, may run package tools). On the
    /// real machine, displays come from the X server when there is one.
    pub fn collect(&self) -> Inventory {
        match &self.root {
            None => {
                let mut inv = collect(&LinuxSource::new());
                inv.set_displays(x_displays());
                inv
            }
            Some(root) => collect(&LinuxSource::with_root(root)),
        }
    }
}

/// The monitors of the X display in `DISPLAY`, if it can be reached.
fn x_displays() -> Vec<Display> {
    use crate::capture::{Capture, x11::X11Capture};
    let Ok(mut x) = X11Capture::open(None) else {
        return Vec::new();
    };
    x.monitors()
        .unwrap_or_default()
        .into_iter()
        .map(|m| Display {
            name: m.name,
            width_px: m.width,
            height_px: m.height,
            primary: m.primary,
            ..Display::default()
        })
        .collect()
}

/// The hashes message for `inv`.
pub fn hashes(inv: &Inventory) -> InventoryHashes {
    InventoryHashes {
        collected_unix: inv.collected_unix,
        hashes: Category::ALL
            .into_iter()
            .filter(|c| inv.is_complete(*c))
            .map(|c| CategoryHash {
                category: c.as_str().to_string(),
                hash: category_hash(inv, c),
            })
            .collect(),
    }
}

/// The data message for one requested category, if we have it complete.
pub fn data(inv: &Inventory, category: &str) -> Option<InventoryData> {
    let cat = Category::ALL.into_iter().find(|c| c.as_str() == category)?;
    if !inv.is_complete(cat) {
        return None;
    }
    let json = match cat {
        Category::System => serde_json::to_vec(&inv.system),
        Category::Hardware => serde_json::to_vec(&inv.hardware),
        Category::Software => serde_json::to_vec(&inv.software),
    }
    .ok()?;
    Some(InventoryData {
        category: category.to_string(),
        hash: category_hash(inv, cat),
        collected_unix: inv.collected_unix,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeline_proto::{AgentToRelay, MAX_FRAME_LEN, encode_message};

    #[test]
    fn an_unchanged_inventory_costs_under_a_kilobyte() {
        let inv = lifeline_inventory::synthetic_inventory(7, 2000);
        let frame =
            encode_message(&AgentToRelay::InventoryHashes(hashes(&inv)), MAX_FRAME_LEN).unwrap();
        assert!(frame.len() < 1024, "hashes frame is {} bytes", frame.len());
        assert_eq!(hashes(&inv).hashes.len(), 3);
        let sw = data(&inv, "software").unwrap();
        let back: lifeline_inventory::SoftwareInfo = serde_json::from_slice(&sw.json).unwrap();
        assert_eq!(back.packages.len(), inv.software.packages.len());
        assert!(data(&inv, "firmware").is_none());
    }
}
