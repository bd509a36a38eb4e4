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
    /// Logins being checked now, per key: they count with the failures, so
    /// that many attempts sent at once cannot all pass the check before the
    /// first of them fails.
    pending: HashMap<String, usize>,
    /// Per key, the failure after which a refusal was last reported: one
    /// audit entry per lock, not one per refused attempt.
    reported: HashMap<String, Instant>,
}

/// Wait asked of a login while as many attempts under its name or address
/// are being checked as it may still fail.
pub const BUSY_WAIT: Duration = Duration::from_secs(1);

/// Password checks (Argon2, 19 MiB each) running at once, whoever asks.
pub const PASSWORD_CHECKS: usize = 4;

/// Why a login may not be tried now.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// How long to wait.
    pub wait: Duration,
    /// A key is locked, and this is the first refusal since its latest
    /// failure (worth an audit entry; later ones are not).
    pub first: bool,
    /// Only busy: enough attempts under way, none locked.
    pub busy: bool,
}

impl RateLimiter {
    /// Starts a login attempt under `keys` (each with the failures it may
    /// have before it is locked). Refused when a key is locked, or when its
    /// recent failures and the attempts under way reach that number; end the
    /// attempt with [`RateLimiter::end`] (see [`Attempt`]).
    ///
    /// # Errors
    /// The refusal, with how long to wait.
    pub fn begin(&mut self, keys: &[(&str, usize)], now: Instant) -> Result<(), Refusal> {
        let mut refusal: Option<Refusal> = None;
        for &(key, free) in keys {
            let found = if let Some(wait) = self.locked_for(key, free, now) {
                let last = self.failures.get(key).and_then(|t| t.last().copied());
                let first = last.is_some_and(|l| self.reported.insert(key.into(), l) != Some(l));
                Refusal {
                    wait,
                    first,
                    busy: false,
                }
            } else {
                let failed = self.failures.get(key).map_or(0, Vec::len);
                let going = self.pending.get(key).copied().unwrap_or(0);
                if going == 0 || failed + going < free {
                    continue;
                }
                Refusal {
                    wait: BUSY_WAIT,
                    first: false,
                    busy: true,
                }
            };
            refusal = Some(match refusal {
                None => found,
                Some(r) => Refusal {
                    wait: r.wait.max(found.wait),
                    first: r.first || found.first,
                    busy: r.busy && found.busy,
                },
            });
        }
        if let Some(r) = refusal {
            return Err(r);
        }
        for &(key, _) in keys {
            *self.pending.entry(key.to_string()).or_default() += 1;
        }
        Ok(())
    }

    /// Ends an attempt begun with [`RateLimiter::begin`] (after recording
    /// its failure or success).
    pub fn end(&mut self, keys: &[&str]) {
        for key in keys {
            if let Some(n) = self.pending.get_mut(*key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.pending.remove(*key);
                }
            }
        }
    }

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
        let failures = &self.failures;
        self.reported.retain(|k, _| failures.contains_key(k));
    }
}

/// Help requests one machine may send in an hour by default
/// (`lifeline-relay serve --help-requests-per-hour`): far more than a user
/// asks, far fewer tickets than a script (or a stolen machine credential)
/// would open.
pub const HELP_REQUESTS_PER_HOUR: usize = 10;

const HOUR: Duration = Duration::from_secs(3600);

/// When each machine asked for help, within the last hour.
#[derive(Debug)]
pub struct HelpLimiter {
    per_hour: usize,
    recent: HashMap<String, Vec<Instant>>,
}

impl Default for HelpLimiter {
    fn default() -> Self {
        Self::new(HELP_REQUESTS_PER_HOUR)
    }
}

impl HelpLimiter {
    /// A limiter letting each machine ask `per_hour` times an hour.
    pub fn new(per_hour: usize) -> Self {
        Self {
            per_hour,
            recent: HashMap::new(),
        }
    }

    /// How many requests a machine may send in an hour.
    pub fn per_hour(&self) -> usize {
        self.per_hour
    }

    /// Counts a help request from `machine` at `now`, or says how long
    /// until it may send another.
    ///
    /// # Errors
    /// The wait, when the machine sent its hour's requests already.
    pub fn allow(&mut self, machine: &str, now: Instant) -> Result<(), Duration> {
        let times = self.recent.entry(machine.to_string()).or_default();
        times.retain(|t| now.saturating_duration_since(*t) < HOUR);
        if times.len() >= self.per_hour {
            let oldest = times
                .first()
                .map_or(HOUR, |t| now.saturating_duration_since(*t));
            return Err(HOUR.saturating_sub(oldest));
        }
        times.push(now);
        Ok(())
    }

    /// Forgets machines quiet for an hour; call now and then.
    pub fn prune(&mut self, now: Instant) {
        self.recent.retain(|_, times| {
            times
                .last()
                .is_some_and(|t| now.saturating_duration_since(*t) < HOUR)
        });
    }
}

/// A login attempt under way: ends itself in the limiter when dropped,
/// whatever path the login took.
pub struct Attempt<'a> {
    limiter: &'a std::sync::Mutex<RateLimiter>,
    keys: [String; 2],
}

impl<'a> Attempt<'a> {
    /// Begins an attempt under the user name's key and the address's.
    ///
    /// # Errors
    /// The refusal, with how long to wait.
    pub fn begin(
        limiter: &'a std::sync::Mutex<RateLimiter>,
        user_key: &str,
        ip_key: &str,
        now: Instant,
    ) -> Result<Self, Refusal> {
        // A poisoned limiter still counts: its maps stay consistent.
        let mut l = limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        l.begin(
            &[
                (user_key, FREE_FAILURES),
                (ip_key, FREE_FAILURES_PER_ADDRESS),
            ],
            now,
        )?;
        Ok(Self {
            limiter,
            keys: [user_key.into(), ip_key.into()],
        })
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut l = self
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        l.end(&[&self.keys[0], &self.keys[1]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_at_once_count_with_the_failures() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        let keys = [
            ("user:bob", FREE_FAILURES),
            ("ip:1", FREE_FAILURES_PER_ADDRESS),
        ];
        // Five at once may go (each could still fail within the five free
        // failures); the sixth waits until one of them ends.
        for _ in 0..FREE_FAILURES {
            rl.begin(&keys, t0).unwrap();
        }
        let busy = rl.begin(&keys, t0).unwrap_err();
        assert_eq!(
            busy,
            Refusal {
                wait: BUSY_WAIT,
                first: false,
                busy: true
            }
        );
        // All five fail: bob is locked, reported once.
        for _ in 0..FREE_FAILURES {
            rl.record_failure("user:bob", t0);
            rl.end(&["user:bob", "ip:1"]);
        }
        let locked = rl.begin(&keys, t0).unwrap_err();
        assert!(
            locked.first && !locked.busy && locked.wait >= BASE_LOCK,
            "{locked:?}"
        );
        let again = rl.begin(&keys, t0).unwrap_err();
        assert!(!again.first, "{again:?}");
        // Another name from the same address is not held up by bob's.
        rl.begin(
            &[
                ("user:eve", FREE_FAILURES),
                ("ip:1", FREE_FAILURES_PER_ADDRESS),
            ],
            t0,
        )
        .unwrap();
        // Once bob's lock runs out, one attempt at a time.
        let later = t0 + BASE_LOCK * 2;
        rl.begin(&keys, later).unwrap();
        assert!(rl.begin(&keys, later).unwrap_err().busy);
        rl.end(&["user:bob", "ip:1"]);
        rl.begin(&keys, later).unwrap();
    }

    #[test]
    fn a_machine_asks_for_help_ten_times_an_hour() {
        let mut h = HelpLimiter::default();
        let t0 = Instant::now();
        for i in 0..HELP_REQUESTS_PER_HOUR {
            h.allow("m1", t0 + Duration::from_secs(i as u64)).unwrap();
        }
        let wait = h.allow("m1", t0 + Duration::from_secs(60)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(3540));
        h.allow("m2", t0 + Duration::from_secs(60)).unwrap();
        // An hour after the first, one more.
        h.allow("m1", t0 + Duration::from_secs(3600)).unwrap();
        assert!(h.allow("m1", t0 + Duration::from_secs(3600)).is_err());
        assert!(HelpLimiter::new(0).allow("m3", t0).is_err());
    }

    #[test]
    fn an_attempt_ends_when_dropped() {
        let rl = std::sync::Mutex::new(RateLimiter::default());
        let t0 = Instant::now();
        let held: Vec<_> = (0..FREE_FAILURES)
            .map(|_| Attempt::begin(&rl, "user:bob", "ip:1", t0).unwrap())
            .collect();
        assert!(Attempt::begin(&rl, "user:bob", "ip:1", t0).is_err());
        drop(held);
        assert!(rl.lock().unwrap().pending.is_empty());
        assert!(Attempt::begin(&rl, "user:bob", "ip:1", t0).is_ok());
    }

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
