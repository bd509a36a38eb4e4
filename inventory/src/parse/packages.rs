//! Output of the package tools that have no stable file format of their own:
//! `rpm -qa`, `flatpak list` and `snap list`.

use super::{ParseProblem, non_empty};
use crate::model::{Package, PackageSource};

/// The query format the rpm source runs: one tab-separated line per package.
pub const RPM_QUERY_FORMAT: &str = "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n";

/// Parsed packages and the lines that could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageList {
    /// Packages in output order.
    pub packages: Vec<Package>,
    /// Lines that were skipped.
    pub problems: Vec<ParseProblem>,
}

/// Parses `rpm -qa --queryformat '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n'`.
///
/// rpm prints `(none)` for a missing tag; for ARCH (the `gpg-pubkey` pseudo
/// packages) that becomes `None`, for INSTALLTIME an unknown date.
pub fn parse_rpm_query(text: &str) -> PackageList {
    let mut out = PackageList::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, version, arch, time] = fields[..] else {
            out.problems.push(ParseProblem {
                line: index + 1,
                message: format!("expected 4 tab-separated fields, found {}", fields.len()),
            });
            continue;
        };
        let (Some(name), Some(version)) = (non_empty(name), non_empty(version)) else {
            out.problems.push(ParseProblem {
                line: index + 1,
                message: "empty name or version".to_owned(),
            });
            continue;
        };
        out.packages.push(Package {
            name,
            version,
            arch: non_empty(arch).filter(|a| a != "(none)"),
            source: PackageSource::Rpm,
            install_date_unix: time.trim().parse().ok(),
        });
    }
    out
}

/// Parses `flatpak list --app --columns=application,version,arch`.
///
/// Output is tab-separated; flatpak adds a header only on a terminal, so a first
/// line naming the columns is skipped. Apps without a version get an empty one.
pub fn parse_flatpak_list(text: &str) -> PackageList {
    let mut out = PackageList::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || (index == 0 && line.starts_with("Application")) {
            continue;
        }
        let mut fields = line.split('\t');
        let Some(name) = fields.next().and_then(non_empty) else {
            out.problems.push(ParseProblem {
                line: index + 1,
                message: "no application id".to_owned(),
            });
            continue;
        };
        let version = fields.next().map(str::trim).unwrap_or_default().to_owned();
        out.packages.push(Package {
            name,
            version,
            arch: fields.next().and_then(non_empty),
            source: PackageSource::Flatpak,
            install_date_unix: None,
        });
    }
    out
}

/// Parses `snap list`: a header line, then whitespace-separated columns
/// `Name Version Rev Tracking Publisher Notes`. Snaps have no architecture column.
pub fn parse_snap_list(text: &str) -> PackageList {
    let mut out = PackageList::default();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(version)) = (fields.next(), fields.next()) else {
            continue;
        };
        if index == 0 && name == "Name" {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            out.problems.push(ParseProblem {
                line: index + 1,
                message: "indented line".to_owned(),
            });
            continue;
        }
        out.packages.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: None,
            source: PackageSource::Snap,
            install_date_unix: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_none_arch_and_bad_line() {
        let list = parse_rpm_query(
            "gpg-pubkey\t1-2\t(none)\t(none)\nbash\t5.2-1\nzsh\t5.9-7.fc40\tx86_64\t1714000000\n",
        );
        assert_eq!(list.packages.len(), 2);
        assert_eq!(list.packages[0].arch, None);
        assert_eq!(list.packages[0].install_date_unix, None);
        assert_eq!(list.packages[1].install_date_unix, Some(1_714_000_000));
        assert_eq!(list.problems.len(), 1);
        assert_eq!(list.problems[0].line, 2);
    }

    #[test]
    fn flatpak_with_and_without_header() {
        let text = "Application ID\tVersion\tArch\norg.gimp.GIMP\t2.10.38\tx86_64\ncom.example.NoVersion\t\tx86_64\n";
        let list = parse_flatpak_list(text);
        assert_eq!(list.packages.len(), 2);
        assert_eq!(list.packages[1].version, "");
        assert_eq!(
            parse_flatpak_list("org.gimp.GIMP\t2.10.38\tx86_64")
                .packages
                .len(),
            1
        );
    }

    #[test]
    fn snap_list() {
        let text = "Name      Version    Rev    Tracking       Publisher   Notes\n\
                    core22    20240111   1122   latest/stable  canonical✓  base\n\
                    firefox   124.0-2    4033   latest/stable  mozilla✓    -\n";
        let list = parse_snap_list(text);
        let got: Vec<_> = list
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("core22", "20240111"), ("firefox", "124.0-2")]);
    }
}
