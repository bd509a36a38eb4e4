//! The hash-chained audit log: every privileged action, tamper-evident.
//!
//! Each entry's hash covers its own fields and the previous entry's hash,
//! so changing, inserting or deleting a row breaks the chain from there on,
//! and `lifeline audit verify` names the first entry that no longer fits.

use lifeline_proto::audit::{AuditEntry, AuditVerdict};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry before it has a place in the chain.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

impl NewEntry {
    /// An entry for `action` by `actor` on `target`.
    pub fn new(actor: &str, action: &str, target: &str, details: impl Into<String>) -> Self {
        Self {
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            details: details.into(),
        }
    }
}

/// The hash of an entry: SHA-256 over the previous hash and every field,
/// each length-prefixed so that no two field lists encode alike.
pub fn entry_hash(
    prev_hash: &str,
    seq: u64,
    at_unix: u64,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash.as_bytes(),
        &seq.to_be_bytes(),
        &at_unix.to_be_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    for field in [actor, action, target, details] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Recomputes the chain and reports the first entry that does not fit.
pub fn verify(entries: &[AuditEntry]) -> AuditVerdict {
    let mut check = ChainCheck::default();
    for e in entries {
        check.push(e);
    }
    check.verdict()
}

/// The chain checked an entry at a time, oldest first, so that a log of
/// any length is verified without holding it in memory.
#[derive(Debug, Default)]
pub struct ChainCheck {
    /// The hash the next entry links to (`None`: none seen yet).
    prev: Option<String>,
    expected_seq: u64,
    entries: u64,
    first_broken: Option<(u64, String)>,
}

impl ChainCheck {
    /// Checks the next entry (once one is broken, the rest are counted).
    pub fn push(&mut self, e: &AuditEntry) {
        self.entries += 1;
        if self.first_broken.is_some() {
            return;
        }
        let prev = self.prev.take().unwrap_or_else(|| {
            self.expected_seq = e.seq;
            GENESIS.to_string()
        });
        let why = if e.seq != self.expected_seq {
            Some(format!(
                "sequence jumps from {} to {} (entries missing)",
                self.expected_seq - 1,
                e.seq
            ))
        } else if e.prev_hash != prev {
            Some("its previous-hash link does not match the entry before it".into())
        } else {
            let computed = entry_hash(
                &e.prev_hash,
                e.seq,
                e.at_unix,
                &e.actor,
                &e.action,
                &e.target,
                &e.details,
            );
            (computed != e.hash).then(|| {
                format!(
                    "its contents do not match its hash (recorded {}…, computed {}…)",
                    &e.hash.get(..12).unwrap_or(&e.hash),
                    &computed[..12]
                )
            })
        };
        self.first_broken = why.map(|w| (e.seq, w));
        self.prev = Some(e.hash.clone());
        self.expected_seq = e.seq + 1;
    }

    /// Every entry pushed, and the first that did not fit, if any.
    pub fn verdict(self) -> AuditVerdict {
        AuditVerdict {
            entries: self.entries,
            first_broken: self.first_broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let hash = entry_hash(&prev, seq, 100 + seq, "alice", "login", "alice", "");
                let e = AuditEntry {
                    seq,
                    at_unix: 100 + seq,
                    actor: "alice".into(),
                    action: "login".into(),
                    target: "alice".into(),
                    details: String::new(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let v = verify(&chain(5));
        assert_eq!(v.entries, 5);
        assert_eq!(v.first_broken, None);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut c = chain(5);
        c[2].actor = "mallory".into();
        let v = verify(&c);
        assert_eq!(v.first_broken.as_ref().map(|b| b.0), Some(3));
        assert!(v.first_broken.unwrap().1.contains("do not match its hash"));
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        let v = verify(&c);
        assert_eq!(v.first_broken.as_ref().map(|b| b.0), Some(3));
    }

    #[test]
    fn entries_after_a_broken_one_are_counted() {
        let mut c = chain(6);
        c[1].hash = "0".repeat(64);
        let v = verify(&c);
        assert_eq!(v.entries, 6);
        assert_eq!(v.first_broken.map(|b| b.0), Some(2));
    }

    #[test]
    fn fields_cannot_shift_between_each_other() {
        let a = entry_hash(GENESIS, 1, 1, "ab", "c", "", "");
        let b = entry_hash(GENESIS, 1, 1, "a", "bc", "", "");
        assert_ne!(a, b);
    }
}
