//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 30 s steps, six
//! digits): what authenticator apps compute from a secret shared once.

use ring::hmac;

/// Seconds per code.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The code for time step `step` (unix seconds / [`STEP_SECS`]).
pub fn code_at_step(secret: &[u8], step: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    // Dynamic truncation (RFC 4226 §5.3).
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    bin % 10u32.pow(DIGITS)
}

/// The code for unix time `unix`, as the six digits a user types.
pub fn code(secret: &[u8], unix: u64) -> String {
    format!(
        "{:0width$}",
        code_at_step(secret, unix / STEP_SECS),
        width = DIGITS as usize
    )
}

/// Checks `typed` against the codes of the current step and one step on
/// either side (clock drift). Returns the matching step, which the caller
/// must store and refuse from then on, so that an observed code cannot be
/// replayed; steps at or before `last_used` never match.
pub fn verify(secret: &[u8], typed: &str, unix: u64, last_used: u64) -> Option<u64> {
    let typed = typed.trim();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = typed.parse().ok()?;
    let now = unix / STEP_SECS;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|&step| step > last_used)
        .find(|&step| code_at_step(secret, step) ^ value == 0)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, the form authenticator apps accept.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes [`base32`] text (case-insensitive, spaces and padding ignored).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=')) {
        let v = BASE32.iter().position(|&x| x == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` address an authenticator app reads from a QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA1 secret, with the last six of its eight digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors() {
        for (t, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code(RFC_SECRET, t), eight[2..], "t = {t}");
        }
    }

    #[test]
    fn base32_round_trip_and_rfc_4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(from_base32("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(from_base32("MZ1"), None, "1 is not in the alphabet");
        let secret: Vec<u8> = (0..20).collect();
        assert_eq!(from_base32(&base32(&secret)).unwrap(), secret);
    }

    #[test]
    fn verify_accepts_drift_of_one_step_and_refuses_replay() {
        let t = 1_234_567_890;
        let now = code(RFC_SECRET, t);
        let step = t / STEP_SECS;
        assert_eq!(verify(RFC_SECRET, &now, t, 0), Some(step));
        assert_eq!(verify(RFC_SECRET, &now, t + 30, 0), Some(step));
        assert_eq!(verify(RFC_SECRET, &now, t - 30, 0), Some(step));
        assert_eq!(verify(RFC_SECRET, &now, t + 90, 0), None, "too old");
        assert_eq!(verify(RFC_SECRET, &now, t, step), None, "already used");
        assert_eq!(verify(RFC_SECRET, "12345", t, 0), None);
        assert_eq!(verify(RFC_SECRET, "12345a", t, 0), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let uri = otpauth_uri("Lifeline", "bob smith", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Lifeline:bob%20smith?secret=MZXW6YTBOI&issuer=Lifeline&algorithm=SHA1&digits=6&period=30"
        );
    }
}
