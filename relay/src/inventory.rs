//! Inventory on the relay: ingesting uploads, answering fleet questions.

use crate::store::{CategoryUpdate, PackageDelta, PackageRow, Store, StoreError};
use lifeline_inventory::{
    Category, ChangeKind, HardwareInfo, Inventory, PackageSource, SoftwareInfo, SystemInfo,
    VersionScheme, category_hash, compare_versions, diff,
};
use lifeline_proto::inventory::{
    CategoryHash, FoundRow, HistoryRow, InventoryData, InventoryHashes, VersionFilter,
};
use std::cmp::Ordering;

/// An upload could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown inventory category {0:?}")]
    UnknownCategory(String),
    #[error("malformed {category} inventory: {source}")]
    Malformed {
        category: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a category name.
pub fn category(name: &str) -> Option<Category> {
    Category::ALL.into_iter().find(|c| c.as_str() == name)
}

/// The categories of `hashes` whose hash differs from what is stored.
///
/// # Errors
/// Store failures.
pub fn wanted(
    store: &mut dyn Store,
    machine_id: &str,
    hashes: &InventoryHashes,
) -> Result<Vec<String>, StoreError> {
    let stored = store.inventory_hashes(machine_id)?;
    Ok(hashes
        .hashes
        .iter()
        .filter(|CategoryHash { category: c, hash }| {
            category(c).is_some() && !stored.iter().any(|(sc, sh)| sc == c && sh == hash)
        })
        .map(|h| h.category.clone())
        .collect())
}

/// Reassembles a machine's stored inventory (categories that fail to parse,
/// e.g. written by an older relay, come back empty).
///
/// # Errors
/// Store failures.
pub fn load(store: &mut dyn Store, machine_id: &str) -> Result<(Inventory, bool, u64), StoreError> {
    let mut inv = Inventory::default();
    let mut present = [false; 3];
    let mut updated = 0;
    for c in store.inventory(machine_id)? {
        updated = updated.max(c.updated_unix);
        match category(&c.category) {
            Some(Category::System) => {
                inv.system = serde_json::from_slice(&c.json).unwrap_or_default();
                present[0] = true;
            }
            Some(Category::Hardware) => {
                inv.hardware = serde_json::from_slice(&c.json).unwrap_or_default();
                present[1] = true;
            }
            Some(Category::Software) => {
                inv.software = serde_json::from_slice(&c.json).unwrap_or_default();
                present[2] = true;
            }
            None => {}
        }
    }
    Ok((inv, present.iter().any(|p| *p), updated))
}

/// Stores one uploaded category: current state, history, indexes.
///
/// # Errors
/// Unknown category, JSON that is not that category, store failures.
pub fn ingest(
    store: &mut dyn Store,
    machine_id: &str,
    data: &InventoryData,
    now_unix: u64,
) -> Result<(), IngestError> {
    let before = previous(store, machine_id, &data.category)?;
    let p = prepare(data, before, now_unix)?;
    write(store, machine_id, &p)?;
    Ok(())
}

/// What the store holds of a machine before an upload of `category`:
/// `None` when the category was never stored (its first upload), else
/// the machine's whole inventory, for the diff.
///
/// # Errors
/// Store failures.
pub fn previous(
    store: &mut dyn Store,
    machine_id: &str,
    category: &str,
) -> Result<Option<Inventory>, StoreError> {
    let had = store
        .inventory_hashes(machine_id)?
        .iter()
        .any(|(c, _)| c == category);
    Ok(if had {
        Some(load(store, machine_id)?.0)
    } else {
        None
    })
}

/// An upload turned into rows, ready to write. Making it is all the CPU
/// work (parsing, diffing, hashing, compressing), done off the store's
/// thread so that the one writer only writes.
#[derive(Debug)]
pub struct Prepared {
    pub category: String,
    pub hash: String,
    /// The stored form (compressed when large).
    pub json: Vec<u8>,
    pub now_unix: u64,
    pub changes: Vec<HistoryRow>,
    pub packages: Option<(Vec<PackageRow>, Vec<PackageRow>)>,
    pub facts: Option<Vec<(String, String)>>,
}

/// Parses and diffs an upload against `before` (see [`previous`]).
///
/// # Errors
/// Unknown category, JSON that is not that category.
pub fn prepare(
    data: &InventoryData,
    before: Option<Inventory>,
    now_unix: u64,
) -> Result<Prepared, IngestError> {
    let cat = category(&data.category)
        .ok_or_else(|| IngestError::UnknownCategory(data.category.clone()))?;
    let malformed = |source| IngestError::Malformed {
        category: data.category.clone(),
        source,
    };
    let had = before.is_some();
    let old = before.unwrap_or_default();
    let mut new = old.clone();
    let mut packages = None;
    let mut facts = None;
    match cat {
        Category::System => {
            new.system = serde_json::from_slice::<SystemInfo>(&data.json).map_err(malformed)?;
        }
        Category::Hardware => {
            new.hardware = serde_json::from_slice::<HardwareInfo>(&data.json).map_err(malformed)?;
            facts = Some(hardware_facts(&new.hardware));
        }
        Category::Software => {
            new.software = serde_json::from_slice::<SoftwareInfo>(&data.json).map_err(malformed)?;
            packages = Some(package_delta(&old.software, &new.software));
        }
    }
    let changes: Vec<HistoryRow> = if had {
        diff(&old, &new)
            .into_iter()
            .filter(|c| c.category == cat)
            .map(|c| HistoryRow {
                at_unix: now_unix,
                category: data.category.clone(),
                kind: match c.kind {
                    ChangeKind::Added => "added",
                    ChangeKind::Removed => "removed",
                    ChangeKind::Changed => "changed",
                }
                .into(),
                key: c.key,
                old: c.old,
                new: c.new,
            })
            .collect()
    } else {
        vec![HistoryRow {
            at_unix: now_unix,
            category: data.category.clone(),
            kind: "first".into(),
            key: data.category.clone(),
            old: None,
            new: Some(summary(&new, cat)),
        }]
    };
    // The relay's own hash of what it stores, whatever the agent claimed.
    let hash = category_hash(&new, cat);
    let json = match cat {
        Category::System => serde_json::to_vec(&new.system),
        Category::Hardware => serde_json::to_vec(&new.hardware),
        Category::Software => serde_json::to_vec(&new.software),
    }
    .map_err(malformed)?;
    Ok(Prepared {
        category: data.category.clone(),
        hash,
        json: crate::store::pack_json(json)?,
        now_unix,
        changes,
        packages,
        facts,
    })
}

/// Writes a prepared upload in one transaction (or savepoint of a batch).
///
/// # Errors
/// Store failures.
pub fn write(store: &mut dyn Store, machine_id: &str, p: &Prepared) -> Result<(), StoreError> {
    store.store_category(&CategoryUpdate {
        machine_id,
        category: &p.category,
        hash: &p.hash,
        json: &p.json,
        now_unix: p.now_unix,
        changes: &p.changes,
        packages: p
            .packages
            .as_ref()
            .map(|(removed, added)| PackageDelta { removed, added }),
        facts: p.facts.as_deref(),
    })
}

fn summary(inv: &Inventory, cat: Category) -> String {
    match cat {
        Category::System => inv.system.hostname.clone().unwrap_or_default(),
        Category::Hardware => format!(
            "{} disks, {} network interfaces",
            inv.hardware.disks.len(),
            inv.hardware.network_interfaces.len()
        ),
        Category::Software => format!("{} packages", inv.software.packages.len()),
    }
}

/// Rows to take out of and put into the package index when a machine's
/// software goes from `old` to `new`, each sorted by name (inserts in key
/// order touch each index page once).
fn package_delta(old: &SoftwareInfo, new: &SoftwareInfo) -> (Vec<PackageRow>, Vec<PackageRow>) {
    let old_rows = package_rows(old);
    let mut new_rows = package_rows(new);
    if old_rows.is_empty() {
        new_rows.sort_by(|a, b| a.name.cmp(&b.name));
        return (Vec::new(), new_rows);
    }
    let old_set: std::collections::HashSet<&PackageRow> = old_rows.iter().collect();
    let new_set: std::collections::HashSet<&PackageRow> = new_rows.iter().collect();
    let mut removed: Vec<PackageRow> = old_rows
        .iter()
        .filter(|p| !new_set.contains(p))
        .cloned()
        .collect();
    let mut added: Vec<PackageRow> = new_rows
        .iter()
        .filter(|p| !old_set.contains(p))
        .cloned()
        .collect();
    removed.sort_by(|a, b| a.name.cmp(&b.name));
    added.sort_by(|a, b| a.name.cmp(&b.name));
    (removed, added)
}

fn package_rows(sw: &SoftwareInfo) -> Vec<PackageRow> {
    sw.packages
        .iter()
        .map(|p| PackageRow {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source.as_str().to_string(),
        })
        .collect()
}

/// Flattens hardware into `(dotted.key, value)` pairs, lower-case, with
/// array indices left out so `disks.model` matches any disk.
pub fn hardware_facts(hw: &HardwareInfo) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(hw) {
        flatten("", &v, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(prefix, item, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((prefix.to_lowercase(), s.to_lowercase())),
        other => out.push((prefix.to_lowercase(), other.to_string().to_lowercase())),
    }
}

/// Does `version` pass `filter` under the rules of `source`?
pub fn version_matches(source: &str, version: &str, filter: &VersionFilter) -> bool {
    let scheme = if source == PackageSource::Rpm.as_str() {
        VersionScheme::Rpm
    } else {
        VersionScheme::Debian
    };
    match filter {
        VersionFilter::Any => true,
        VersionFilter::Below(v) => compare_versions(scheme, version, v) == Ordering::Less,
        VersionFilter::AtLeast(v) => compare_versions(scheme, version, v) != Ordering::Less,
    }
}

/// Rows for a software search, before visibility filtering.
///
/// # Errors
/// Store failures.
pub fn find_software(
    store: &mut dyn Store,
    name: &str,
    filter: &VersionFilter,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(store
        .find_package(name)?
        .into_iter()
        .filter(|(_, version, source)| version_matches(source, version, filter))
        .map(|(m, v, _)| (m, v))
        .collect())
}

/// Builds result rows from `(machine_id, value)` pairs.
pub fn found_rows(
    pairs: Vec<(String, String)>,
    machines: &[crate::store::MachineRecord],
) -> Vec<FoundRow> {
    // By id: a fleet-wide search matches thousands of machines.
    let by_id: std::collections::HashMap<&str, &crate::store::MachineRecord> =
        machines.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut rows: Vec<FoundRow> = pairs
        .into_iter()
        .filter_map(|(id, value)| {
            let m = by_id.get(id.as_str())?;
            Some(FoundRow {
                machine_id: id,
                hostname: m.info.hostname.clone(),
                group: m.group.clone(),
                value,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.value.cmp(&b.value)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_package_manager_rules() {
        let below = VersionFilter::Below("1.0".into());
        assert!(version_matches("dpkg", "1.0~rc1", &below));
        assert!(!version_matches("dpkg", "1:0.5", &below));
        let at_least = VersionFilter::AtLeast("2.9".into());
        assert!(version_matches("dpkg", "2.10", &at_least));
        assert!(version_matches(
            "rpm",
            "1.0^post1",
            &VersionFilter::AtLeast("1.0".into())
        ));
    }

    fn software(pkgs: &[(&str, &str)]) -> InventoryData {
        let sw = SoftwareInfo {
            packages: pkgs
                .iter()
                .map(|(n, v)| lifeline_inventory::Package {
                    name: (*n).into(),
                    version: (*v).into(),
                    arch: Some("amd64".into()),
                    source: PackageSource::Dpkg,
                    install_date_unix: None,
                })
                .collect(),
        };
        InventoryData {
            category: "software".into(),
            hash: String::new(),
            collected_unix: 0,
            json: serde_json::to_vec(&sw).unwrap(),
        }
    }

    #[test]
    fn the_package_index_follows_upgrades_removals_and_additions() {
        use crate::store::{InventoryStore as _, SqliteStore};
        let mut s =
            crate::store::store_with_machines(SqliteStore::open_in_memory().unwrap(), &["m-1"]);
        // Big enough to be stored compressed.
        let mut v1: Vec<(String, String)> = (0..300)
            .map(|i| (format!("lib{i:03}"), "1.0".to_string()))
            .collect();
        v1.push(("openssl".into(), "3.0.11".into()));
        v1.push(("telnet".into(), "0.17".into()));
        let refs: Vec<(&str, &str)> = v1.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        ingest(&mut s, "m-1", &software(&refs), 10).unwrap();
        let found = |s: &mut SqliteStore, n: &str| {
            s.find_package(n)
                .unwrap()
                .into_iter()
                .map(|(m, v, _)| format!("{m} {v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(found(&mut s, "openssl"), ["m-1 3.0.11"]);
        let mut v2: Vec<(&str, &str)> = refs
            .iter()
            .copied()
            .filter(|(n, _)| *n != "telnet" && *n != "openssl")
            .collect();
        v2.push(("openssl", "3.0.13"));
        v2.push(("curl", "7.88"));
        ingest(&mut s, "m-1", &software(&v2), 20).unwrap();
        assert_eq!(found(&mut s, "openssl"), ["m-1 3.0.13"]);
        assert!(found(&mut s, "telnet").is_empty());
        assert_eq!(found(&mut s, "curl"), ["m-1 7.88"]);
        assert_eq!(found(&mut s, "lib123"), ["m-1 1.0"]);
        // The stored software reads back whole (it was compressed).
        let (inv, present, _) = load(&mut s, "m-1").unwrap();
        assert!(present);
        assert_eq!(inv.software.packages.len(), 302);
        let kinds: Vec<String> = s
            .inventory_history("m-1", 0)
            .unwrap()
            .into_iter()
            .map(|h| format!("{} {}", h.kind, h.key))
            .collect();
        assert!(
            kinds
                .iter()
                .any(|k| k.starts_with("removed") && k.contains("telnet")),
            "{kinds:?}"
        );
    }

    #[test]
    fn hardware_facts_drop_indices_and_case() {
        let mut hw = HardwareInfo::default();
        hw.cpu.model = Some("Intel(R) Xeon(R)".into());
        let facts = hardware_facts(&hw);
        assert!(
            facts.contains(&("cpu.model".into(), "intel(r) xeon(r)".into())),
            "{facts:?}"
        );
    }
}
