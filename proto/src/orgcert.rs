//! Technician approvals: an organisation's signing key, held by its admin
//! and never by the relay, vouches that a technician's end-to-end key
//! belongs to that technician. Machines enrolled with the organisation's
//! public key refuse sessions whose technician key has no valid approval,
//! so a relay cannot pose as a technician with a key of its own.
//!
//! The signature (Ed25519) covers [`TechCert::signed_bytes`]; signing and
//! checking live in `lifeline_net::org`.

use serde::{Deserialize, Serialize};

/// Domain separation for the signed bytes.
const CONTEXT: &[u8] = b"lifeline technician approval v1\0";

/// An organisation's approval of one technician's end-to-end key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechCert {
    /// The technician's account name.
    pub user: String,
    /// The technician's end-to-end public key (X25519, 32 bytes).
    pub key: Vec<u8>,
    /// The approval is void after this time.
    pub expires_unix: u64,
    /// The organisation's public key (Ed25519, 32 bytes) that signed it.
    pub org_key: Vec<u8>,
    /// Ed25519 signature over [`TechCert::signed_bytes`].
    pub signature: Vec<u8>,
}

impl TechCert {
    /// What the organisation signs: context, user, key, expiry and its own
    /// public key, each length-prefixed.
    #[must_use]
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = CONTEXT.to_vec();
        for field in [self.user.as_bytes(), &self.key, &self.org_key] {
            out.extend_from_slice(&(field.len() as u32).to_le_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&self.expires_unix.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_signed_bytes() {
        let c = TechCert {
            user: "bob".into(),
            key: vec![1; 32],
            expires_unix: 10,
            org_key: vec![2; 32],
            signature: vec![],
        };
        let base = c.signed_bytes();
        let changed = [
            TechCert {
                user: "bo".into(),
                ..c.clone()
            },
            TechCert {
                key: vec![3; 32],
                ..c.clone()
            },
            TechCert {
                expires_unix: 11,
                ..c.clone()
            },
            TechCert {
                org_key: vec![4; 32],
                ..c.clone()
            },
        ];
        for other in changed {
            assert_ne!(other.signed_bytes(), base, "{other:?}");
        }
        // The signature itself is not signed.
        let signed = TechCert {
            signature: vec![9; 64],
            ..c.clone()
        };
        assert_eq!(signed.signed_bytes(), base);
    }
}
