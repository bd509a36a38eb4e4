//! os-release(5): shell-style `KEY=value` lines.

use crate::model::OsRelease;

/// Parses an os-release file. Unknown keys, comments and malformed lines are
/// ignored: the format is advisory and distributions add their own keys.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        let value = (!value.is_empty()).then_some(value);
        let slot = match key.trim() {
            "NAME" => &mut os.name,
            "VERSION" => &mut os.version,
            "ID" => &mut os.id,
            "ID_LIKE" => &mut os.id_like,
            "VERSION_ID" => &mut os.version_id,
            "PRETTY_NAME" => &mut os.pretty_name,
            _ => continue,
        };
        *slot = value;
    }
    os
}

/// Removes shell quoting: `"…"` with backslash escapes, `'…'` literally, or a bare word.
fn unquote(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        Some('"') => {
            let mut out = String::new();
            let mut escaped = false;
            for c in chars {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    (_, c) => {
                        out.push(c);
                        escaped = false;
                    }
                }
            }
            out
        }
        Some('\'') => chars.take_while(|&c| c != '\'').collect(),
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_styles() {
        let os = parse_os_release(
            "NAME=\"Foo \\\"Linux\\\"\"\nID=foo\nVERSION_ID='1.0'\n# c\nbroken line\nPRETTY_NAME=\n",
        );
        assert_eq!(os.name.as_deref(), Some("Foo \"Linux\""));
        assert_eq!(os.id.as_deref(), Some("foo"));
        assert_eq!(os.version_id.as_deref(), Some("1.0"));
        assert_eq!(os.pretty_name, None);
    }
}
