//! What changed between two inventories, field by field, in the words a
//! technician reads in the machine's history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::{stable_hardware, stable_software, stable_system};
use crate::model::{Category, Inventory, Package};

/// How an entry changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Present only in the new inventory.
    Added,
    /// Present only in the old inventory.
    Removed,
    /// Present in both with different values.
    Changed,
}

/// One difference between two inventories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The category the entry belongs to.
    pub category: Category,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// What changed: `package:openssl:amd64`, `hardware.memory_total`,
    /// `hardware.disks[nvme0n1].model`, `system.os.pretty_name`.
    pub key: String,
    /// The old value (a package's version; a field's value; a whole removed
    /// list entry as compact JSON).
    pub old: Option<String>,
    /// The new value, likewise.
    pub new: Option<String>,
}

/// Lists what changed from `old` to `new`, ordered by category then key.
///
/// The same fields are ignored as by [`crate::category_hash`], so a category
/// whose hash is unchanged has no changes. Packages are matched by (name, arch);
/// list entries elsewhere by their name, PCI slot or mount point.
pub fn diff(old: &Inventory, new: &Inventory) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut walker = Walker {
        category: Category::System,
        changes: &mut changes,
    };
    walker.walk(
        "system",
        &to_value(&stable_system(&old.system)),
        &to_value(&stable_system(&new.system)),
    );
    walker.category = Category::Hardware;
    walker.walk(
        "hardware",
        &to_value(&stable_hardware(&old.hardware)),
        &to_value(&stable_hardware(&new.hardware)),
    );
    diff_packages(
        &stable_software(&old.software).packages,
        &stable_software(&new.software).packages,
        &mut changes,
    );
    changes
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

struct Walker<'a> {
    category: Category,
    changes: &'a mut Vec<Change>,
}

impl Walker<'_> {
    fn push(&mut self, kind: ChangeKind, key: &str, old: Option<&Value>, new: Option<&Value>) {
        self.changes.push(Change {
            category: self.category,
            kind,
            key: key.to_owned(),
            old: old.map(display),
            new: new.map(display),
        });
    }

    fn walk(&mut self, key: &str, old: &Value, new: &Value) {
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => {
                for (field, value) in a {
                    self.walk(
                        &format!("{key}.{field}"),
                        value,
                        b.get(field).unwrap_or(&Value::Null),
                    );
                }
                for (field, value) in b.iter().filter(|(f, _)| !a.contains_key(*f)) {
                    self.walk(&format!("{key}.{field}"), &Value::Null, value);
                }
            }
            (Value::Array(a), Value::Array(b)) if all_objects(a) && all_objects(b) => {
                self.walk_list(key, a, b)
            }
            (a, b) if a == b => {}
            (Value::Null, b) => self.push(ChangeKind::Added, key, None, Some(b)),
            (a, Value::Null) => self.push(ChangeKind::Removed, key, Some(a), None),
            (Value::Array(a), Value::Array(b)) if a.is_empty() => {
                self.push(ChangeKind::Added, key, None, Some(new))
            }
            (Value::Array(_), Value::Array(b)) if b.is_empty() => {
                self.push(ChangeKind::Removed, key, Some(old), None)
            }
            (a, b) => self.push(ChangeKind::Changed, key, Some(a), Some(b)),
        }
    }

    /// Lists of objects are matched by identity, so one unplugged disk is one
    /// `Removed` entry and not a cascade of shifted fields.
    fn walk_list(&mut self, key: &str, old: &[Value], new: &[Value]) {
        let index = |list: &[Value]| -> BTreeMap<String, Value> {
            list.iter()
                .enumerate()
                .map(|(i, v)| (identity(v).unwrap_or_else(|| i.to_string()), v.clone()))
                .collect()
        };
        let (old, new) = (index(old), index(new));
        for (id, value) in &old {
            let item_key = format!("{key}[{id}]");
            match new.get(id) {
                Some(other) => self.walk(&item_key, value, other),
                None => self.push(ChangeKind::Removed, &item_key, Some(value), None),
            }
        }
        for (id, value) in new.iter().filter(|(id, _)| !old.contains_key(*id)) {
            self.push(
                ChangeKind::Added,
                &format!("{key}[{id}]"),
                None,
                Some(value),
            );
        }
    }
}

/// A list of objects (or an empty list) is diffed entry by entry; a list of
/// strings (addresses, user names) is one value.
fn all_objects(list: &[Value]) -> bool {
    list.iter().all(Value::is_object)
}

/// The field that names a list entry.
fn identity(value: &Value) -> Option<String> {
    ["name", "slot", "mount_point"]
        .iter()
        .find_map(|field| value.get(field)?.as_str().map(str::to_owned))
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn diff_packages(old: &[Package], new: &[Package], changes: &mut Vec<Change>) {
    let (old, new) = (package_index(old), package_index(new));
    let change = |kind, key: String, old: Option<String>, new: Option<String>| Change {
        category: Category::Software,
        kind,
        key,
        old,
        new,
    };
    let mut found = Vec::new();
    for (key, a) in &old {
        let Some(b) = new.get(key) else {
            found.push(change(
                ChangeKind::Removed,
                key.clone(),
                Some(a.version.clone()),
                None,
            ));
            continue;
        };
        if a.version != b.version {
            found.push(change(
                ChangeKind::Changed,
                key.clone(),
                Some(a.version.clone()),
                Some(b.version.clone()),
            ));
        } else if a.install_date_unix != b.install_date_unix {
            // Same version, newer file list: reinstalled.
            let date = |p: &Package| p.install_date_unix.map(|t| t.to_string());
            found.push(change(
                ChangeKind::Changed,
                format!("{key}.install_date"),
                date(a),
                date(b),
            ));
        } else if a.source != b.source {
            let source = |p: &Package| Some(p.source.as_str().to_owned());
            found.push(change(
                ChangeKind::Changed,
                format!("{key}.source"),
                source(a),
                source(b),
            ));
        }
    }
    for (key, b) in new.iter().filter(|(k, _)| !old.contains_key(*k)) {
        found.push(change(
            ChangeKind::Added,
            key.clone(),
            None,
            Some(b.version.clone()),
        ));
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    changes.extend(found);
}

/// Packages by key. Two package managers may list the same (name, arch); the
/// later one is told apart by its source so neither hides the other.
fn package_index(packages: &[Package]) -> BTreeMap<String, &Package> {
    let mut index = BTreeMap::new();
    for package in packages {
        let key = package.key();
        if index.contains_key(&key) {
            index.insert(format!("{key}@{}", package.source.as_str()), package);
        } else {
            index.insert(key, package);
        }
    }
    index
}
