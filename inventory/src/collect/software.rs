//! The software category: packages from dpkg, rpm, Flatpak and Snap.

use super::{Errors, describe_io};
use crate::model::{Category, Package, PackageSource};
use crate::parse::ParseProblem;
use crate::parse::dpkg::parse_dpkg_status;
use crate::parse::packages::{
    PackageList, RPM_QUERY_FORMAT, parse_flatpak_list, parse_rpm_query, parse_snap_list,
};
use crate::source::InventorySource;

const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// The rpm database: `/var/lib/rpm`, or `/usr/lib/sysimage/rpm` since Fedora 36.
const RPM_DATABASES: [&str; 2] = ["var/lib/rpm", "usr/lib/sysimage/rpm"];

pub(super) fn collect_software(
    source: &dyn InventorySource,
    errors: &mut Errors,
) -> crate::model::SoftwareInfo {
    let mut packages = dpkg(source, errors);
    if RPM_DATABASES.iter().any(|path| source.exists(path)) {
        // rpm expands the `\t`/`\n` escapes itself, as it does for the shell.
        match source.run("rpm", &["-qa", "--queryformat", RPM_QUERY_FORMAT]) {
            Some(result) => packages.extend(tool_packages(
                "rpm",
                result.map(|t| parse_rpm_query(&t)),
                errors,
            )),
            None => errors.push(
                Category::Software,
                "rpm",
                "an rpm database exists but `rpm` is not on PATH",
            ),
        }
    }
    let flatpak_args = ["list", "--app", "--columns=application,version,arch"];
    if let Some(result) = source.run("flatpak", &flatpak_args) {
        packages.extend(tool_packages(
            "flatpak",
            result.map(|t| parse_flatpak_list(&t)),
            errors,
        ));
    }
    if let Some(result) = source.run("snap", &["list"]) {
        packages.extend(tool_packages(
            "snap",
            result.map(|t| parse_snap_list(&t)),
            errors,
        ));
    }
    packages.sort_by(|a, b| (&a.name, &a.arch, a.source).cmp(&(&b.name, &b.arch, b.source)));
    crate::model::SoftwareInfo { packages }
}

fn dpkg(source: &dyn InventorySource, errors: &mut Errors) -> Vec<Package> {
    if !source.exists(DPKG_STATUS) {
        return Vec::new();
    }
    let text = match source.read_text(DPKG_STATUS) {
        Ok(text) => text,
        Err(err) => {
            errors.push(Category::Software, "dpkg", describe_io(DPKG_STATUS, &err));
            return Vec::new();
        }
    };
    let status = parse_dpkg_status(&text);
    record_problems("dpkg", &status.problems, errors);
    status
        .packages
        .into_iter()
        .map(|entry| {
            let install_date_unix = install_date(source, &entry.name, entry.arch.as_deref());
            Package {
                name: entry.name,
                version: entry.version,
                arch: entry.arch,
                source: PackageSource::Dpkg,
                install_date_unix,
            }
        })
        .collect()
}

/// dpkg keeps no install date; the mtime of the package's file list is the time
/// it was last unpacked, i.e. installed or upgraded. Multi-Arch: same packages
/// name the list `name:arch.list`.
fn install_date(source: &dyn InventorySource, name: &str, arch: Option<&str>) -> Option<u64> {
    let qualified = arch.map(|arch| format!("var/lib/dpkg/info/{name}:{arch}.list"));
    let plain = format!("var/lib/dpkg/info/{name}.list");
    qualified
        .iter()
        .chain(std::iter::once(&plain))
        .find_map(|path| source.modified_unix(path).ok())
        .filter(|&t| t > 0)
}

fn tool_packages(
    tool: &str,
    result: Result<PackageList, crate::source::CommandError>,
    errors: &mut Errors,
) -> Vec<Package> {
    match result {
        Ok(list) => {
            record_problems(tool, &list.problems, errors);
            list.packages
        }
        Err(err) => {
            errors.push(Category::Software, tool, err);
            Vec::new()
        }
    }
}

/// One error per source, naming the first few problems: enough to find the
/// broken spot without flooding the relay with one line per bad package.
fn record_problems(tool: &str, problems: &[ParseProblem], errors: &mut Errors) {
    if problems.is_empty() {
        return;
    }
    let shown: Vec<String> = problems.iter().take(3).map(ToString::to_string).collect();
    let more = problems.len().saturating_sub(shown.len());
    let suffix = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    errors.push(
        Category::Software,
        tool,
        format!(
            "{} entries skipped: {}{suffix}",
            problems.len(),
            shown.join("; ")
        ),
    );
}
