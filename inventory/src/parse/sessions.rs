//! Who is logged in: systemd-logind session files, with utmp as the fallback on
//! systems without logind.

/// Parses one `/run/systemd/sessions/<id>` file (`KEY=value` lines) and returns the
/// user of an open user session. Display-manager greeters (`CLASS=greeter`) and
/// sessions being torn down (`STATE=closing`) are not people at the machine.
pub fn parse_logind_session(text: &str) -> Option<String> {
    let mut user = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("USER", value)) if !value.trim().is_empty() => {
                user = Some(value.trim().to_owned())
            }
            Some(("CLASS", value)) if !value.starts_with("user") => return None,
            Some(("STATE", "closing")) => return None,
            _ => {}
        }
    }
    user
}

/// Size of one glibc `struct utmp` record on Linux (all 64-bit and 32-bit ABIs
/// that use the 32-bit `ut_tv` compatibility layout).
const UTMP_RECORD: usize = 384;
const UTMP_USER_PROCESS: i16 = 7;
const UTMP_USER_OFFSET: usize = 44;
const UTMP_USER_LEN: usize = 32;

/// Returns the users of `USER_PROCESS` records in a binary utmp file. A trailing
/// partial record (the file being written) is ignored.
pub fn parse_utmp(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks_exact(UTMP_RECORD)
        .filter(|record| i16::from_le_bytes([record[0], record[1]]) == UTMP_USER_PROCESS)
        .filter_map(|record| {
            let field = &record[UTMP_USER_OFFSET..UTMP_USER_OFFSET + UTMP_USER_LEN];
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            let name = String::from_utf8_lossy(&field[..end]).trim().to_owned();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logind_classes() {
        assert_eq!(
            parse_logind_session("UID=1000\nUSER=alice\nCLASS=user\nSTATE=active\n").as_deref(),
            Some("alice")
        );
        assert_eq!(parse_logind_session("USER=gdm\nCLASS=greeter\n"), None);
        assert_eq!(parse_logind_session("USER=bob\nSTATE=closing\n"), None);
    }

    #[test]
    fn utmp_records() {
        let mut bytes = vec![0u8; UTMP_RECORD * 2 + 10];
        bytes[0] = 7;
        bytes[UTMP_USER_OFFSET..UTMP_USER_OFFSET + 5].copy_from_slice(b"alice");
        bytes[UTMP_RECORD] = 8; // DEAD_PROCESS
        bytes[UTMP_RECORD + UTMP_USER_OFFSET] = b'x';
        assert_eq!(parse_utmp(&bytes), ["alice"]);
    }
}
