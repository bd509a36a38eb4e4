//! Audit log entries as the console sees them.

use serde::{Deserialize, Serialize};

/// One entry of the hash-chained audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_unix: u64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of `audit verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerdict {
    /// Entries checked.
    pub entries: u64,
    /// The first entry whose hash or link does not match, and why.
    pub first_broken: Option<(u64, String)>,
}
