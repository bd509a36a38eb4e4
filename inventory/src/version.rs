//! Package version ordering as dpkg and rpm define it, so the relay can tell an
//! upgrade from a downgrade and compare against advisories.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Which package manager's rules to compare by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionScheme {
    /// dpkg: `[epoch:]upstream[-revision]`, compared as deb-version(7) says.
    Debian,
    /// rpm: `[epoch:]version[-release]`, compared segment-wise like `rpmvercmp`.
    Rpm,
}

/// Compares two version strings under `scheme`. Total on all inputs: malformed
/// versions compare by the same rules instead of failing.
pub fn compare_versions(scheme: VersionScheme, a: &str, b: &str) -> Ordering {
    let (a_epoch, a_version, a_revision) = split_evr(a);
    let (b_epoch, b_version, b_revision) = split_evr(b);
    let compare = match scheme {
        VersionScheme::Debian => debian_compare,
        VersionScheme::Rpm => rpm_compare,
    };
    compare_numeric(a_epoch, b_epoch)
        .then_with(|| compare(a_version, b_version))
        .then_with(|| compare(a_revision, b_revision))
}

/// Splits `epoch:version-revision`. The epoch is the digits before the first
/// colon (absent = 0); the revision follows the last hyphen (absent = "").
fn split_evr(full: &str) -> (&str, &str, &str) {
    let (epoch, rest) = match full.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch, rest)
        }
        _ => ("0", full),
    };
    match rest.rsplit_once('-') {
        Some((version, revision)) => (epoch, version, revision),
        None => (epoch, rest, ""),
    }
}

/// Compares two digit strings of any length by value.
fn compare_numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's `verrevcmp`: alternate non-digit and digit runs. In non-digit runs
/// `~` sorts before everything (even the end of the string), then the end,
/// then letters, then all other characters; digit runs compare numerically.
fn debian_compare(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        loop {
            let (ca, cb) = (a.first().copied(), b.first().copied());
            let a_done = ca.is_none_or(|c| c.is_ascii_digit());
            let b_done = cb.is_none_or(|c| c.is_ascii_digit());
            if a_done && b_done {
                break;
            }
            let order = debian_weight(ca).cmp(&debian_weight(cb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[usize::from(!a_done)..];
            b = &b[usize::from(!b_done)..];
        }
        let (digits_a, rest_a) = split_digits(a);
        let (digits_b, rest_b) = split_digits(b);
        let order = compare_numeric(digits_a, digits_b);
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (rest_a, rest_b);
    }
    Ordering::Equal
}

/// Sort weight of one character in a dpkg non-digit run; `None` or a digit
/// means the run has ended.
fn debian_weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn split_digits(s: &[u8]) -> (&str, &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    // Only ASCII digits are in the prefix, so it is valid UTF-8.
    (std::str::from_utf8(&s[..end]).unwrap_or("0"), &s[end..])
}

/// rpm's `rpmvercmp`: separators are skipped; `~` sorts before anything (even
/// the end), `^` after the end but before any further segment; alphabetic and
/// numeric segments compare among themselves, and a numeric segment is newer
/// than an alphabetic one.
fn rpm_compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let is_sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        a = &a[a.iter().position(|c| !is_sep(c)).unwrap_or(a.len())..];
        b = &b[b.iter().position(|c| !is_sep(c)).unwrap_or(b.len())..];
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) | (Some(b'^'), Some(b'^')) => {
                (a, b) = (&a[1..], &b[1..]);
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(ca), Some(_)) => {
                let numeric = ca.is_ascii_digit();
                let run = |s: &[u8]| {
                    s.iter()
                        .position(|c| {
                            if numeric {
                                !c.is_ascii_digit()
                            } else {
                                !c.is_ascii_alphabetic()
                            }
                        })
                        .unwrap_or(s.len())
                };
                let (len_a, len_b) = (run(a), run(b));
                if len_b == 0 {
                    // Segments of different kinds: numbers are newer than letters.
                    return if numeric {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    };
                }
                let (seg_a, seg_b) = (&a[..len_a], &b[..len_b]);
                let order = if numeric {
                    let text = |s: &[u8]| std::str::from_utf8(s).unwrap_or("0").to_owned();
                    compare_numeric(&text(seg_a), &text(seg_b))
                } else {
                    seg_a.cmp(seg_b)
                };
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[len_a..], &b[len_b..]);
            }
        }
    }
}
