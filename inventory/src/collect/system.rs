//! The system category: host, OS, kernel, clock and users.

use super::{Errors, read_optional};
use crate::model::{Category, OsRelease, SystemInfo};
use crate::parse::os_release::parse_os_release;
use crate::parse::sessions::{parse_logind_session, parse_utmp};
use crate::source::{InventorySource, PortableFacts};

pub(super) fn collect_system(
    source: &dyn InventorySource,
    portable: &PortableFacts,
    errors: &mut Errors,
) -> SystemInfo {
    let first_line = |path: &str| {
        read_optional(source, path)
            .and_then(|t| crate::parse::non_empty(t.lines().next().unwrap_or("")))
    };
    SystemInfo {
        hostname: portable
            .hostname
            .clone()
            .or_else(|| first_line("proc/sys/kernel/hostname"))
            .or_else(|| first_line("etc/hostname")),
        os: os_release(source, errors),
        kernel: portable
            .kernel
            .clone()
            .or_else(|| first_line("proc/sys/kernel/osrelease")),
        arch: portable.arch.clone(),
        boot_time_unix: portable.boot_time_unix.or_else(|| boot_time(source)),
        uptime_secs: portable.uptime_secs.or_else(|| uptime(source)),
        timezone: timezone(source),
        logged_in_users: logged_in_users(source),
    }
}

fn os_release(source: &dyn InventorySource, errors: &mut Errors) -> OsRelease {
    // os-release(5): /etc/os-release wins, /usr/lib/os-release is the fallback.
    for path in ["etc/os-release", "usr/lib/os-release"] {
        if let Ok(text) = source.read_text(path) {
            return parse_os_release(&text);
        }
    }
    errors.push(
        Category::System,
        "os-release",
        "neither /etc/os-release nor /usr/lib/os-release is readable",
    );
    OsRelease::default()
}

fn boot_time(source: &dyn InventorySource) -> Option<u64> {
    let stat = read_optional(source, "proc/stat")?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

fn uptime(source: &dyn InventorySource) -> Option<u64> {
    let text = read_optional(source, "proc/uptime")?;
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    (seconds >= 0.0).then_some(seconds as u64)
}

/// The zone name from `/etc/timezone` (Debian) or the `/etc/localtime` link target.
fn timezone(source: &dyn InventorySource) -> Option<String> {
    if let Some(zone) =
        read_optional(source, "etc/timezone").and_then(|t| crate::parse::non_empty(&t))
    {
        return Some(zone);
    }
    let target = source.read_link("etc/localtime").ok()?;
    let (_, zone) = target.split_once("zoneinfo/")?;
    crate::parse::non_empty(zone)
}

fn logged_in_users(source: &dyn InventorySource) -> Vec<String> {
    let mut users = match source.list_dir("run/systemd/sessions") {
        Ok(names) => names
            .iter()
            .filter(|name| !name.contains('.'))
            .filter_map(|name| read_optional(source, &format!("run/systemd/sessions/{name}")))
            .filter_map(|text| parse_logind_session(&text))
            .collect(),
        Err(_) => ["run/utmp", "var/run/utmp"]
            .iter()
            .find_map(|path| source.read(path).ok())
            .map(|bytes| parse_utmp(&bytes))
            .unwrap_or_default(),
    };
    users.sort();
    users.dedup();
    users
}
