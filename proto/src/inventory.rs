//! Inventory on the wire: per-category hashes first, data only on request.
//!
//! The agent sends [`InventoryHashes`]; the relay answers with the
//! categories whose hash differs from what it stored; the agent sends those
//! as [`InventoryData`]. An unchanged machine costs two small frames.

use serde::{Deserialize, Serialize};

/// Hash of one inventory category (`system`, `hardware`, `software`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryHash {
    pub category: String,
    pub hash: String,
}

/// The agent's current hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryHashes {
    pub collected_unix: u64,
    pub hashes: Vec<CategoryHash>,
}

/// One category's content, JSON-encoded by the inventory crate's model so
/// the wire format does not change with every new field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryData {
    pub category: String,
    pub hash: String,
    pub collected_unix: u64,
    #[serde(with = "serde_bytes")]
    pub json: Vec<u8>,
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub at_unix: u64,
    pub category: String,
    pub kind: String,
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// How a fleet search filters package versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionFilter {
    Any,
    Below(String),
    AtLeast(String),
}

/// A fleet search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryQuery {
    /// Machines with package `name` installed, filtered by version.
    Software {
        name: String,
        version: VersionFilter,
    },
    /// Machines whose hardware field `field` equals `value`
    /// (case-insensitive; array indices may be left out: `disks.model`).
    Hardware { field: String, value: String },
}

/// One machine that matched a fleet search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundRow {
    pub machine_id: String,
    pub hostname: String,
    pub group: Option<String>,
    /// The package version or hardware value that matched.
    pub value: String,
}
