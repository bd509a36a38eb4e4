//! An organisation's signing key and its approvals of technician keys
//! (Ed25519 with ring). The private key stays in the admin's console
//! directory; machines hold the public half from their enrollment.

use lifeline_proto::orgcert::TechCert;
use ring::{
    rand::SystemRandom,
    signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey},
};

/// Length of an organisation's public key.
pub const ORG_KEY_LEN: usize = 32;

/// Why an approval does not vouch for a technician's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("the technician's key has no approval from this machine's organisation")]
    Missing,
    #[error("the approval was signed by another organisation")]
    OtherOrganisation,
    #[error("the approval's signature is not valid (forged or altered)")]
    BadSignature,
    #[error("the approval is for {cert_user}, not {user}")]
    OtherUser { cert_user: String, user: String },
    #[error("the approval is for another key than the one offered")]
    OtherKey,
    #[error("the approval expired")]
    Expired,
    #[error("organisation key: {0}")]
    Key(String),
}

/// A new organisation key: (PKCS#8 document to keep secret, public key).
///
/// # Errors
/// The system's random source failed.
pub fn generate() -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let rng = SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| CertError::Key(e.to_string()))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|e| CertError::Key(e.to_string()))?;
    Ok((doc.as_ref().to_vec(), pair.public_key().as_ref().to_vec()))
}

/// The public half of a PKCS#8 organisation key.
///
/// # Errors
/// Not an Ed25519 PKCS#8 document.
pub fn public_of(pkcs8: &[u8]) -> Result<Vec<u8>, CertError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| CertError::Key(e.to_string()))?;
    Ok(pair.public_key().as_ref().to_vec())
}

/// Signs an approval of `key` for `user` until `expires_unix`.
///
/// # Errors
/// Not an Ed25519 PKCS#8 document.
pub fn approve(
    pkcs8: &[u8],
    user: &str,
    key: &[u8],
    expires_unix: u64,
) -> Result<TechCert, CertError> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| CertError::Key(e.to_string()))?;
    let mut cert = TechCert {
        user: user.to_string(),
        key: key.to_vec(),
        expires_unix,
        org_key: pair.public_key().as_ref().to_vec(),
        signature: Vec::new(),
    };
    cert.signature = pair.sign(&cert.signed_bytes()).as_ref().to_vec();
    Ok(cert)
}

/// Checks that `cert` is `org_key`'s valid approval of `key` for `user` at
/// `now_unix`.
///
/// # Errors
/// The first [`CertError`] that applies.
pub fn check(
    cert: Option<&TechCert>,
    org_key: &[u8],
    user: &str,
    key: &[u8],
    now_unix: u64,
) -> Result<(), CertError> {
    let cert = cert.ok_or(CertError::Missing)?;
    if cert.org_key != org_key {
        return Err(CertError::OtherOrganisation);
    }
    UnparsedPublicKey::new(&ED25519, org_key)
        .verify(&cert.signed_bytes(), &cert.signature)
        .map_err(|_| CertError::BadSignature)?;
    if cert.user != user {
        return Err(CertError::OtherUser {
            cert_user: cert.user.clone(),
            user: user.to_string(),
        });
    }
    if cert.key != key {
        return Err(CertError::OtherKey);
    }
    if now_unix >= cert.expires_unix {
        return Err(CertError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_vouches_for_exactly_its_user_key_and_time() {
        let (org, public) = generate().unwrap();
        assert_eq!(public_of(&org).unwrap(), public);
        let key = [7u8; 32];
        let cert = approve(&org, "bob", &key, 1000).unwrap();
        assert_eq!(check(Some(&cert), &public, "bob", &key, 999), Ok(()));
        assert_eq!(
            check(None, &public, "bob", &key, 999),
            Err(CertError::Missing)
        );
        assert!(matches!(
            check(Some(&cert), &public, "mallory", &key, 999),
            Err(CertError::OtherUser { .. })
        ));
        assert_eq!(
            check(Some(&cert), &public, "bob", &[8u8; 32], 999),
            Err(CertError::OtherKey)
        );
        assert_eq!(
            check(Some(&cert), &public, "bob", &key, 1000),
            Err(CertError::Expired)
        );
        // Another organisation's key, and a relay editing the approval.
        let (_, other) = generate().unwrap();
        assert_eq!(
            check(Some(&cert), &other, "bob", &key, 999),
            Err(CertError::OtherOrganisation)
        );
        let mut edited = cert.clone();
        edited.key = vec![8u8; 32];
        assert_eq!(
            check(Some(&edited), &public, "bob", &[8u8; 32], 999),
            Err(CertError::BadSignature)
        );
        let mut longer = cert.clone();
        longer.expires_unix = u64::MAX;
        assert_eq!(
            check(Some(&longer), &public, "bob", &key, 999),
            Err(CertError::BadSignature)
        );
        // An approval signed by another organisation that claims this one.
        let (thief, _) = generate().unwrap();
        let mut forged = approve(&thief, "bob", &key, 1000).unwrap();
        forged.org_key = public.clone();
        assert_eq!(
            check(Some(&forged), &public, "bob", &key, 999),
            Err(CertError::BadSignature)
        );
    }
}
