//! Machines' end-to-end keys, pinned on first use (like SSH's known_hosts):
//! a relay that later hands out a different key for the same machine is
//! caught before any stream opens.

use lifeline_net::e2e::fingerprint;
use std::{collections::BTreeMap, path::Path};

/// File name inside the console directory.
pub const FILE: &str = "known_machines.json";

/// Checks `key` against the pin of `machine_id` in `file`, pinning it when
/// there is none yet. `Err` explains a mismatch for the technician.
pub fn check(file: &Path, machine_id: &str, hostname: &str, key: &[u8]) -> Result<(), String> {
    let mut pins: BTreeMap<String, String> = std::fs::read(file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let offered = hex::encode(key);
    match pins.get(machine_id) {
        Some(pinned) if *pinned == offered => Ok(()),
        Some(pinned) => Err(format!(
            "the end-to-end key of {hostname} ({machine_id}) changed: pinned {}, the relay now gives {}. \
             Someone may be intercepting sessions; nothing was sent. If you know why (a restored relay), \
             remove the machine's line from {}",
            hex::decode(pinned).map_or_else(|_| "?".into(), |k| fingerprint(&k)),
            fingerprint(key),
            file.display()
        )),
        None => {
            pins.insert(machine_id.to_string(), offered);
            let bytes = serde_json::to_vec_pretty(&pins).map_err(|e| e.to_string())?;
            let dir = file.parent().unwrap_or(Path::new("."));
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or(FILE);
            lifeline_net::files::write_private(dir, name, &bytes).map_err(|(p, e)| {
                format!("cannot pin the key of {hostname} in {}: {e}", p.display())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_key_is_pinned_and_a_different_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE);
        check(&file, "m1", "pc-1", &[1; 32]).unwrap();
        check(&file, "m1", "pc-1", &[1; 32]).unwrap();
        check(&file, "m2", "pc-2", &[2; 32]).unwrap();
        let err = check(&file, "m1", "pc-1", &[9; 32]).unwrap_err();
        assert!(err.contains("end-to-end key of pc-1 (m1) changed"), "{err}");
        assert!(err.contains(&fingerprint(&[1; 32])), "{err}");
        assert!(err.contains(&fingerprint(&[9; 32])), "{err}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
