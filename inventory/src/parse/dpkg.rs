//! The dpkg status database (`/var/lib/dpkg/status`), a deb822 file: paragraphs of
//! `Field: value` lines separated by blank lines, with continuation lines that
//! start with a space or tab.

use super::ParseProblem;

/// A package the status file says is installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpkgEntry {
    /// `Package`.
    pub name: String,
    /// `Version`, including any epoch.
    pub version: String,
    /// `Architecture`, when present.
    pub arch: Option<String>,
}

/// What [`parse_dpkg_status`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpkgStatus {
    /// Installed packages in file order.
    pub packages: Vec<DpkgEntry>,
    /// Paragraphs or lines that were skipped.
    pub problems: Vec<ParseProblem>,
}

/// The fields of one paragraph that the inventory needs.
#[derive(Default)]
struct Paragraph<'a> {
    first_line: usize,
    package: Option<&'a str>,
    status: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    has_fields: bool,
}

/// Parses a dpkg status file and keeps the packages whose files are on disk.
///
/// A package counts as installed when the third word of `Status` is `installed`
/// (`install ok installed`, but also `hold ok installed` for a held package,
/// which a package-count audit must not miss). `deinstall ok config-files` and
/// other states are skipped silently. Paragraphs that lack `Package`, `Status`
/// or (for an installed package) `Version`, and stray lines are reported as
/// problems; so is a last paragraph cut off without its final newline, which is
/// dropped. Everything else is kept.
pub fn parse_dpkg_status(text: &str) -> DpkgStatus {
    let mut out = DpkgStatus::default();
    let mut para = Paragraph::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            finish(std::mem::take(&mut para), &mut out);
            continue;
        }
        if !para.has_fields {
            para.first_line = line_no;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of a multi-line field (Description, Conffiles): none of
            // the fields we keep are multi-line, so only its position matters.
            if !para.has_fields {
                out.problems
                    .push(problem(line_no, "continuation line outside a field"));
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            out.problems
                .push(problem(line_no, "line is not a `Field: value` pair"));
            continue;
        };
        para.has_fields = true;
        let value = value.trim();
        match name {
            n if n.eq_ignore_ascii_case("Package") => para.package = Some(value),
            n if n.eq_ignore_ascii_case("Status") => para.status = Some(value),
            n if n.eq_ignore_ascii_case("Version") => para.version = Some(value),
            n if n.eq_ignore_ascii_case("Architecture") => para.arch = Some(value),
            _ => {}
        }
    }
    if text.is_empty() || text.ends_with('\n') {
        finish(para, &mut out);
    } else if para.has_fields {
        // dpkg ends every field with a newline: the last value may be cut short,
        // and a package with half a version is worse than a missing one.
        let name = para.package.unwrap_or("?");
        let message = format!("last paragraph (package {name}) is cut off without a final newline");
        out.problems.push(problem(para.first_line, &message));
    }
    out
}

fn finish(para: Paragraph<'_>, out: &mut DpkgStatus) {
    if !para.has_fields {
        return;
    }
    let line = para.first_line;
    let Some(name) = para.package.filter(|n| !n.is_empty()) else {
        out.problems
            .push(problem(line, "paragraph has no Package field"));
        return;
    };
    let Some(status) = para.status else {
        out.problems.push(problem(
            line,
            &format!("package {name} has no Status field"),
        ));
        return;
    };
    if status.split_whitespace().nth(2) != Some("installed") {
        return;
    }
    let Some(version) = para.version.filter(|v| !v.is_empty()) else {
        out.problems.push(problem(
            line,
            &format!("package {name} has no Version field"),
        ));
        return;
    };
    out.packages.push(DpkgEntry {
        name: name.to_owned(),
        version: version.to_owned(),
        arch: para.arch.filter(|a| !a.is_empty()).map(str::to_owned),
    });
}

fn problem(line: usize, message: &str) -> ParseProblem {
    ParseProblem {
        line,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_states() {
        let text = "Package: a\r\nStatus: install ok installed\r\nVersion: 1.0\r\nArchitecture: amd64\r\n\r\n\
                    Package: b\nStatus: deinstall ok config-files\nVersion: 2\n\n\
                    Package: c\nStatus: hold ok installed\nVersion: 3\n";
        let status = parse_dpkg_status(text);
        assert!(status.problems.is_empty(), "{:?}", status.problems);
        let names: Vec<_> = status.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(status.packages[0].arch.as_deref(), Some("amd64"));
        assert_eq!(status.packages[1].arch, None);
    }

    #[test]
    fn stray_lines_are_problems_not_panics() {
        let status = parse_dpkg_status(" orphan\nPackage: x\nStatus: install ok installed\nVers");
        assert!(status.packages.is_empty());
        assert_eq!(status.problems.len(), 3, "{:?}", status.problems);
        let status = parse_dpkg_status("Package: x\nStatus: install ok installed\n");
        assert_eq!(status.problems.len(), 1, "{:?}", status.problems);
    }
}
