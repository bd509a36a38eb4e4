//! Human-readable output.

use lifeline_proto::MachineRow;

/// "12 s ago", "3 min ago", "2 h ago", "5 d ago".
pub fn ago(now_unix: u64, then_unix: u64) -> String {
    let d = now_unix.saturating_sub(then_unix);
    match d {
        0..60 => format!("{d} s ago"),
        60..3600 => format!("{} min ago", d / 60),
        3600..86400 => format!("{} h ago", d / 3600),
        _ => format!("{} d ago", d / 86400),
    }
}

/// The `machines` table.
pub fn machines_table(rows: &[MachineRow], now_unix: u64) -> String {
    let mut out = format!(
        "{:<13} {:<20} {:<28} {:<12} {:<8} {}\n",
        "ID", "HOSTNAME", "OS", "GROUP", "STATUS", "LAST SEEN"
    );
    for m in rows {
        let seen = m
            .last_seen_unix
            .map_or_else(|| "never".to_string(), |t| ago(now_unix, t));
        out.push_str(&format!(
            "{:<13} {:<20} {:<28} {:<12} {:<8} {}\n",
            m.id,
            truncate(&m.hostname, 20),
            truncate(&m.os, 28),
            truncate(m.group.as_deref().unwrap_or("-"), 12),
            if m.revoked {
                "revoked"
            } else if m.online {
                "online"
            } else {
                "offline"
            },
            if m.online { "now".to_string() } else { seen }
        ));
    }
    if rows.is_empty() {
        out.push_str(
            "(no machines enrolled yet; create a token with `lifeline enroll-token create`)\n",
        );
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(100, 95), "5 s ago");
        assert_eq!(ago(1000, 100), "15 min ago");
        assert_eq!(ago(100_000, 0), "1 d ago");
        assert_eq!(ago(0, 10), "0 s ago");
    }

    #[test]
    fn table_shows_status_and_group() {
        let rows = vec![MachineRow {
            id: "abc123".into(),
            hostname: "pc-accounting-01".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            arch: "x86_64".into(),
            group: Some("finance".into()),
            online: false,
            last_seen_unix: Some(940),
            enrolled_unix: 0,
            unattended: false,
            revoked: false,
        }];
        let t = machines_table(&rows, 1000);
        assert!(t.contains("pc-accounting-01"));
        assert!(t.contains("finance"));
        assert!(t.contains("offline"));
        assert!(t.contains("1 min ago"));
        let revoked = MachineRow {
            revoked: true,
            ..rows[0].clone()
        };
        assert!(machines_table(&[revoked], 1000).contains("revoked"));
    }
}
