//! Pure parsers: text (or bytes) in, data out. No file access here, so every
//! parser is tested on fixture strings and cannot panic on what a machine holds.

pub mod cpu;
pub mod dmi;
pub mod dpkg;
pub mod net;
pub mod os_release;
pub mod packages;
pub mod pci;
pub mod power_supply;
pub mod sessions;

/// Something a parser skipped, with the 1-based line where it starts, so a
/// partly broken source still yields what it could read plus a precise report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseProblem {
    /// 1-based line number in the input.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Trims a value and maps the empty string to `None`.
pub(crate) fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}
