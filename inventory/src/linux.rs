//! The real source: files under a root directory, package tools on `PATH`, and
//! sysinfo for the facts that have no simple file.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, Networks, System};

use crate::command::{find_on_path, run_with_timeout};
use crate::model::{Filesystem, NetworkInterface};
use crate::source::{CommandError, InventorySource, PortableFacts};

/// Reads the running Linux machine, or a copy of its files under another root.
#[derive(Clone, Debug)]
pub struct LinuxSource {
    root: PathBuf,
    commands: bool,
    sysinfo: bool,
    command_timeout: Duration,
}

impl Default for LinuxSource {
    fn default() -> Self {
        Self::new()
    }
}

impl LinuxSource {
    /// The running machine: root `/`, package tools and sysinfo enabled.
    pub fn new() -> Self {
        LinuxSource {
            root: PathBuf::from("/"),
            commands: true,
            sysinfo: true,
            command_timeout: Duration::from_secs(30),
        }
    }

    /// Files under `root` (a fixture tree or a mounted image). Package tools and
    /// sysinfo are off, because they would describe the running machine instead;
    /// turn them on with [`Self::with_commands`] and [`Self::with_sysinfo`].
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        LinuxSource {
            root: root.into(),
            commands: false,
            sysinfo: false,
            ..Self::new()
        }
    }

    /// Whether `rpm`, `flatpak` and `snap` may be run.
    pub fn with_commands(mut self, enabled: bool) -> Self {
        self.commands = enabled;
        self
    }

    /// Whether host name, disks, network and the like come from sysinfo.
    pub fn with_sysinfo(mut self, enabled: bool) -> Self {
        self.sysinfo = enabled;
        self
    }

    /// How long one package tool may run before it is killed.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The root directory files are read under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl InventorySource for LinuxSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(path))
    }

    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.path(path))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        Ok(std::fs::read_link(self.path(path))?
            .to_string_lossy()
            .into_owned())
    }

    fn modified_unix(&self, path: &str) -> io::Result<u64> {
        let modified = std::fs::metadata(self.path(path))?.modified()?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()))
    }

    fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    fn run(&self, program: &str, args: &[&str]) -> Option<Result<String, CommandError>> {
        if !self.commands {
            return None;
        }
        let path = find_on_path(program)?;
        Some(run_with_timeout(&path, program, args, self.command_timeout))
    }

    fn portable(&self) -> PortableFacts {
        if self.sysinfo {
            sysinfo_facts()
        } else {
            PortableFacts::default()
        }
    }

    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

fn sysinfo_facts() -> PortableFacts {
    PortableFacts {
        hostname: System::host_name().ok(),
        kernel: System::kernel_version().ok(),
        arch: Some(System::cpu_arch()),
        boot_time_unix: System::boot_time().ok(),
        uptime_secs: System::uptime().ok(),
        physical_cores: System::physical_core_count()
            .ok()
            .and_then(|n| u32::try_from(n).ok()),
        cpu_frequency_mhz: cpu_frequency(),
        filesystems: filesystems(),
        network_interfaces: network_interfaces(),
    }
}

fn cpu_frequency() -> Option<u32> {
    let mut system = System::new().ok()?;
    system.refresh_cpu_list(CpuRefreshKind::nothing().with_frequency());
    let mhz = system.cpus().first()?.frequency();
    u32::try_from(mhz).ok().filter(|&mhz| mhz > 0)
}

fn filesystems() -> Vec<Filesystem> {
    let Ok(disks) =
        Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
    else {
        return Vec::new();
    };
    disks
        .iter()
        .map(|disk| Filesystem {
            device: disk.name().to_string_lossy().into_owned(),
            mount_point: disk.mount_point().to_string_lossy().into_owned(),
            fs_type: disk.file_system().to_string_lossy().into_owned(),
            total_bytes: disk.total_space(),
            used_bytes: disk.total_space().saturating_sub(disk.available_space()),
        })
        .collect()
}

fn network_interfaces() -> Vec<NetworkInterface> {
    let Ok(networks) = Networks::new_with_refreshed_list() else {
        return Vec::new();
    };
    networks
        .iter()
        .filter(|(name, _)| name.as_os_str() != "lo")
        .map(|(name, data)| {
            let mac = data.mac_address();
            let (v4, v6): (Vec<&sysinfo::IpNetwork>, Vec<_>) =
                data.ip_networks().iter().partition(|n| n.addr.is_ipv4());
            NetworkInterface {
                name: name.to_string_lossy().into_owned(),
                mac: (!mac.is_unspecified()).then(|| mac.to_string()),
                ipv4: v4.iter().map(ToString::to_string).collect(),
                ipv6: v6.iter().map(ToString::to_string).collect(),
            }
        })
        .collect()
}
