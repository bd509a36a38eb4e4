//! Passwords, tokens and login rate limiting.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// Hashing a password failed (only for broken randomness or parameters).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password with Argon2id and a random salt (PHC string format).
///
/// # Errors
/// If the system has no randomness or argon2 refuses its parameters.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?
        .to_string())
}

/// Checks a password against a stored Argon2 PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of a password nobody knows, verified against when the user
/// does not exist so that unknown and known names take the same time.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$bGlmZWxpbmVkdW1teXNhbHQ$Xo6bvq+0XP8jsp9U9MRZkzdCu/Jl3yZQH3LqCC8OYi0"
}

/// A fresh random token: `prefix` + 64 hex digits (256 bits).
///
/// # Panics
/// Never in practice: only if the OS has no randomness at all.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // Without randomness no secret can be made; this is unrecoverable.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    format!("{prefix}{}", hex::encode(bytes))
}

/// Tokens and credentials are stored by SHA-256 only: they are long random
/// strings, so a fast hash is enough and a stolen database reveals none.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two hashes without an early exit.
pub fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Failed attempts per user name allowed inside [`WINDOW`] before it is locked.
pub const FREE_FAILURES: usize = 5;
/// Failed attempts per client address before it is locked: higher, since a
/// whole office may share one address behind NAT.
pub const FREE_FAILURES_PER_ADDRESS: usize = 20;
/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const BASE_LOCK: Duration = Duration::from_secs(30);
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

/// Counts failed logins per key (user name, client address) and locks a key
/// out for a growing time once it has failed too often.
#[derive(Debug, Default)]
pub struct RateLimiter {
    failures: HashMap<String, Vec<Instant>>,
}

impl RateLimiter {
    /// How long `key` must still wait, if it has failed more than `free`
    /// times recently.
    pub fn locked_for(&mut self, key: &str, free: usize, now: Instant) -> Option<Duration> {
        let times = self.failures.get_mut(key)?;
        times.retain(|t| now.saturating_duration_since(*t) < WINDOW);
        if times.len() < free {
            return None;
        }
        let excess = (times.len() - free).min(10) as u32;
        let lock = (BASE_LOCK * 2u32.pow(excess)).min(MAX_LOCK);
        let last = *times.last()?;
        let until = last + lock;
        (until > now).then(|| until - now)
    }

    /// Records a failed attempt for `key`.
    pub fn record_failure(&mut self, key: &str, now: Instant) {
        let times = self.failures.entry(key.to_string()).or_default();
        times.push(now);
        // Bound memory per key: older failures no longer change the lock.
        if times.len() > 64 {
            times.drain(..times.len() - 64);
        }
    }

    /// Forgets `key`'s failures after a success.
    pub fn record_success(&mut self, key: &str) {
        self.failures.remove(key);
    }

    /// Drops keys with no recent failures; call now and then.
    pub fn prune(&mut self, now: Instant) {
        self.failures.retain(|_, times| {
            times
                .last()
                .is_some_and(|t| now.saturating_duration_since(*t) < WINDOW)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_parses_and_matches_nothing_obvious() {
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn lockout_starts_after_five_failures_and_grows() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..FREE_FAILURES {
            assert_eq!(
                rl.locked_for("user:bob", FREE_FAILURES, t0),
                None,
                "attempt {i}"
            );
            rl.record_failure("user:bob", t0);
        }
        assert_eq!(
            rl.locked_for("user:bob", FREE_FAILURES, t0),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rl.locked_for("user:bob", FREE_FAILURES, t0 + Duration::from_secs(31)),
            None
        );
        rl.record_failure("user:bob", t0 + Duration::from_secs(31));
        assert_eq!(
            rl.locked_for("user:bob", FREE_FAILURES, t0 + Duration::from_secs(31)),
            Some(Duration::from_secs(60))
        );
        rl.record_success("user:bob");
        assert_eq!(rl.locked_for("user:bob", FREE_FAILURES, t0), None);
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token("lls_");
        let b = new_token("lls_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(hashes_equal(&token_hash(&a), &token_hash(&a)));
        assert!(!hashes_equal(&token_hash(&a), &token_hash(&b)));
    }
}
