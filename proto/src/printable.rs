//! Text from a peer kept printable: a control character in a hostname, a
//! help request or a session's consent line could otherwise write escape
//! sequences to the terminal of the technician who lists it (retitle it,
//! clear it, move the cursor over other lines). The relay cleans such text
//! where it comes in (machine info, help requests, ticket changes, session
//! answers and reports); inventory is kept as reported, and live chat goes
//! end to end past the relay. The console shows everything it prints from
//! a relay or an agent through [`text`], [`row`] or [`indented`], which
//! also covers rows stored before the relay cleaned them.

/// Shown in place of a control character.
pub const REPLACEMENT: char = '\u{FFFD}';

/// `s` on one line: every control character (newlines too) as
/// [`REPLACEMENT`], cut to `max_chars` characters (the last one `…`).
#[must_use]
pub fn line(s: String, max_chars: usize) -> String {
    let long = s.chars().nth(max_chars).is_some();
    if !long && !s.chars().any(char::is_control) {
        return s;
    }
    let mut out: String = s
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { REPLACEMENT } else { c })
        .collect();
    if long {
        out.pop();
        out.push('…');
    }
    out
}

/// Kept in text: a line break or a tab.
fn kept(c: char) -> bool {
    c == '\n' || c == '\t'
}

/// Is `s` text as [`text`] leaves it: no control character but newlines
/// and tabs?
#[must_use]
pub fn is_text(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && !kept(c))
}

/// `s` as lines of text: newlines and tabs kept (a carriage return before
/// a newline dropped), every other control character as [`REPLACEMENT`].
#[must_use]
pub fn text(s: String) -> String {
    if is_text(&s) {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c.is_control() && !kept(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

/// `s` as one row of a table: [`line`] without a limit.
#[must_use]
pub fn row(s: String) -> String {
    line(s, usize::MAX)
}

/// `s` as [`text`], its lines after the first indented by `pad`: a field
/// of several lines shown in a layout (a chat line, a comment), whose later
/// lines cannot pass for lines of the layout.
#[must_use]
pub fn indented(s: &str, pad: &str) -> String {
    let s = text(s.to_string());
    if s.contains('\n') {
        s.replace('\n', &format!("\n{pad}"))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_cannot_reach_a_terminal() {
        // An OSC retitle, a screen clear, a C1 CSI and a NUL.
        let evil = "pc\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\0end";
        assert_eq!(line(evil.into(), 255), "pc�]0;owned��[2J�31m�end");
        assert_eq!(text(evil.into()), "pc�]0;owned��[2J�31m�end");
        // Lines and tabs stay in text, not on a line; CRLF becomes LF.
        assert_eq!(text("a\r\nb\tc\rd\n".into()), "a\nb\tc�d\n");
        assert_eq!(line("a\nb".into(), 255), "a�b");
        // Plain text is kept as it is, and cut where asked.
        assert_eq!(text("Drucker ä 日本".into()), "Drucker ä 日本");
        assert_eq!(line("abcdef".into(), 4), "abc…");
        assert_eq!(line("abcd".into(), 4), "abcd");
        assert_eq!(row("a\tb\u{1b}c".into()), "a\u{FFFD}b\u{FFFD}c");
        // A chat line cannot pose as the next line of the transcript.
        assert_eq!(
            indented("ok\n14:40 alice: type\u{1b} it", "    "),
            "ok\n    14:40 alice: type\u{FFFD} it"
        );
    }
}
