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

/// Says there are no machines to list, under the table's header.
pub const NO_MACHINES: &str =
    "(no machines enrolled yet; create a token with `lifeline enroll-token create`)\n";

/// The `machines` table's header line.
pub fn machines_header() -> String {
    format!(
        "{:<13} {:<20} {:<28} {:<12} {:<8} {}\n",
        "ID", "HOSTNAME", "OS", "GROUP", "STATUS", "LAST SEEN"
    )
}

/// One machine's line in the `machines` table.
pub fn machine_line(m: &MachineRow, now_unix: u64) -> String {
    let seen = m
        .last_seen_unix
        .map_or_else(|| "never".to_string(), |t| ago(now_unix, t));
    let row = format!(
        "{:<13} {:<20} {:<28} {:<12} {:<8} {}",
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
    );
    // As the relay keeps it, or as an older relay sent it.
    lifeline_proto::printable::row(row) + "\n"
}

/// `serde_json::to_string_pretty`, with DEL and the C1 controls
/// (U+0080..=U+009F) escaped as `\u00XX` too: serde_json escapes only
/// U+0000..=U+001F, and a terminal that takes U+009B for CSI would obey a
/// hostile hostname or help request printed raw. The same JSON value; every
/// escaped character sits inside a string, since JSON's own syntax is ASCII.
///
/// # Errors
/// A value JSON cannot hold (a map with keys that are not strings).
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let s = serde_json::to_string_pretty(value)?;
    let hidden = |c: char| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c);
    if !s.contains(hidden) {
        return Ok(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Text written to a terminal through [`lifeline_proto::printable::text`]
/// as it comes (a character split between writes is held until it is
/// whole): an export of inventory, kept as the agents reported it, may
/// hold escape sequences a terminal would obey. Files and pipes get the
/// bytes as they are.
pub struct ShownWriter<W: std::io::Write> {
    out: W,
    /// The start of a character whose other bytes have not come yet, or
    /// a carriage return that may come before a newline.
    carry: Vec<u8>,
}

impl<W: std::io::Write> ShownWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            carry: Vec::new(),
        }
    }

    /// Writes the first `upto` bytes held, shown printable; they are let
    /// go once written.
    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.carry[..upto]).into_owned();
        self.out
            .write_all(lifeline_proto::printable::text(text).as_bytes())?;
        self.carry.drain(..upto);
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for ShownWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let held = self.carry.len();
        self.carry.extend_from_slice(buf);
        let mut upto = match std::str::from_utf8(&self.carry) {
            Ok(_) => self.carry.len(),
            // An incomplete character at the end waits for its bytes.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Bytes that are no text: shown as replacements.
            Err(_) => self.carry.len(),
        };
        // A carriage return at the end waits too: before a newline it is
        // left out, as `text` does.
        if upto > 0 && self.carry[upto - 1] == b'\r' {
            upto -= 1;
        }
        if let Err(e) = self.emit(upto) {
            // Not taken: the caller may write it again.
            self.carry.truncate(held);
            return Err(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl<W: std::io::Write> Drop for ShownWriter<W> {
    fn drop(&mut self) {
        if !self.carry.is_empty() {
            let _ = self.emit(self.carry.len());
            let _ = self.out.flush();
        }
    }
}

/// A JSON array written an item at a time, byte for byte what [`json`] of
/// the whole array prints, and a newline:
/// a listing that comes in pages is written as it comes.
pub struct PrettyArray<'a> {
    out: &'a mut dyn std::io::Write,
    count: usize,
}

impl<'a> PrettyArray<'a> {
    pub fn new(out: &'a mut dyn std::io::Write) -> Self {
        Self { out, count: 0 }
    }

    /// Writes the next item.
    ///
    /// # Errors
    /// Write failures, or an item JSON cannot hold.
    pub fn push<T: serde::Serialize + ?Sized>(&mut self, item: &T) -> std::io::Result<()> {
        let sep = if self.count == 0 { "[\n" } else { ",\n" };
        // Each line of the item indented by two, as inside the array.
        let pretty = json(item)?.replace('\n', "\n  ");
        write!(self.out, "{sep}  {pretty}")?;
        self.count += 1;
        Ok(())
    }

    /// Closes the array; answers how many items it holds.
    ///
    /// # Errors
    /// Write failures.
    pub fn finish(self) -> std::io::Result<usize> {
        let end: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
        self.out.write_all(end)?;
        Ok(self.count)
    }
}

/// Where a listing goes as its pages come: lines of a table under one
/// header, or one JSON array of its items.
pub enum Listing<'a> {
    Table {
        out: &'a mut dyn std::io::Write,
        /// Written before the first line (or at the end, when none).
        header: Option<String>,
        rows: usize,
    },
    Json(PrettyArray<'a>),
}

impl<'a> Listing<'a> {
    /// A table with this header line (if any), or JSON when `json`.
    pub fn new(out: &'a mut dyn std::io::Write, json: bool, header: Option<String>) -> Self {
        if json {
            Self::Json(PrettyArray::new(out))
        } else {
            Self::Table {
                out,
                header,
                rows: 0,
            }
        }
    }

    /// Writes an item: as `line` makes it in a table, whole in JSON.
    ///
    /// # Errors
    /// Write failures.
    pub fn push<T: serde::Serialize>(
        &mut self,
        item: &T,
        line: impl FnOnce(&T) -> String,
    ) -> std::io::Result<()> {
        match self {
            Self::Json(a) => a.push(item),
            Self::Table { out, header, rows } => {
                if let Some(h) = header.take() {
                    out.write_all(h.as_bytes())?;
                }
                *rows += 1;
                out.write_all(line(item).as_bytes())
            }
        }
    }

    /// Ends the listing, saying `empty` under a table without rows;
    /// answers how many items it held.
    ///
    /// # Errors
    /// Write failures.
    pub fn finish(self, empty: &str) -> std::io::Result<usize> {
        match self {
            Self::Json(a) => a.finish(),
            Self::Table { out, header, rows } => {
                if let Some(h) = header {
                    out.write_all(h.as_bytes())?;
                }
                if rows == 0 {
                    out.write_all(empty.as_bytes())?;
                }
                Ok(rows)
            }
        }
    }
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
    fn text_shown_on_a_terminal_has_no_escape_sequences_even_split_between_writes() {
        use std::io::Write as _;
        let row = "pc-1,\u{1b}]0;owned\u{7},caf\u{e9} \u{9b}2J\tok\r\n";
        let mut out = Vec::new();
        {
            let mut w = ShownWriter::new(&mut out);
            // One byte at a time: every character split that can be.
            for b in row.as_bytes() {
                w.write_all(std::slice::from_ref(b)).unwrap();
            }
            // A character left half written is shown, not lost.
            w.write_all(&"é".as_bytes()[..1]).unwrap();
        }
        let shown = String::from_utf8(out).unwrap();
        assert_eq!(
            shown,
            "pc-1,\u{fffd}]0;owned\u{fffd},caf\u{e9} \u{fffd}2J\tok\n\u{fffd}"
        );
    }

    #[test]
    fn an_array_written_item_by_item_is_the_pretty_array() {
        let items = [
            serde_json::json!({"a": 1, "b": [1, 2], "c": {"d": "e\nf"}}),
            serde_json::json!("plain"),
            serde_json::json!([]),
            serde_json::json!({"host": "pc\u{9b}2J\u{7f}", "k\u{85}": "\u{1b}é"}),
        ];
        for n in 0..=items.len() {
            let mut out = Vec::new();
            let mut a = PrettyArray::new(&mut out);
            for i in &items[..n] {
                a.push(i).unwrap();
            }
            assert_eq!(a.finish().unwrap(), n);
            let whole = json(&items[..n]).unwrap() + "\n";
            assert_eq!(String::from_utf8(out).unwrap(), whole);
        }
    }

    #[test]
    fn json_escapes_what_a_terminal_would_obey_and_keeps_the_value() {
        let v =
            serde_json::json!({"host": "pc\u{9b}2J\u{7f}\u{1b}]0;x\u{7}", "k\u{85}": "é\u{a0}ok"});
        let s = json(&v).unwrap();
        assert!(
            !s.chars().any(|c| c.is_control() && c != '\n'),
            "a control character left raw: {s:?}"
        );
        assert!(s.contains(r"pc\u009b2J\u007f\u001b]0;x\u0007"), "{s}");
        assert!(s.contains(r#""k\u0085""#), "{s}");
        assert!(
            s.contains("é\u{a0}ok"),
            "printable text stays as it is: {s}"
        );
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
        let plain = serde_json::json!({"a": [1, "b"]});
        assert_eq!(
            json(&plain).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
    }

    #[test]
    fn a_listing_has_one_header_and_says_when_it_is_empty() {
        let mut out = Vec::new();
        let mut l = Listing::new(&mut out, false, Some("N\n".into()));
        for n in [1, 2, 3] {
            l.push(&n, |n| format!("{n}\n")).unwrap();
        }
        assert_eq!(l.finish("(none)\n").unwrap(), 3);
        assert_eq!(out, b"N\n1\n2\n3\n");
        let mut out = Vec::new();
        assert_eq!(
            Listing::new(&mut out, false, Some("N\n".into()))
                .finish("(none)\n")
                .unwrap(),
            0
        );
        assert_eq!(out, b"N\n(none)\n");
        let mut out = Vec::new();
        let mut l = Listing::new(&mut out, true, Some("N\n".into()));
        l.push(&1, |_| unreachable!("JSON has no lines")).unwrap();
        l.finish("(none)\n").unwrap();
        assert_eq!(out, b"[\n  1\n]\n");
    }

    #[test]
    fn table_shows_status_and_group() {
        let rows = [MachineRow {
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
        let t = machine_line(&rows[0], 1000);
        assert!(t.contains("pc-accounting-01"));
        assert!(t.contains("finance"));
        assert!(t.contains("offline"));
        assert!(t.contains("1 min ago"));
        let revoked = MachineRow {
            revoked: true,
            ..rows[0].clone()
        };
        assert!(machine_line(&revoked, 1000).contains("revoked"));
    }
}
