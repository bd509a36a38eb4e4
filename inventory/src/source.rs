//! The inventory source facade: the few primitive reads the collector needs, so
//! the same collection logic runs on a real machine ([`crate::LinuxSource`]) and
//! on a deterministic fixture ([`crate::FakeSource`]).

use std::io;

use crate::model::{Filesystem, NetworkInterface};

/// Where collection reads from. Paths are relative to the source's root and
/// written without a leading slash (`"etc/os-release"`); a leading slash is
/// tolerated and ignored.
pub trait InventorySource {
    /// Reads a whole file.
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;

    /// Names of the entries of a directory, sorted.
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>>;

    /// The target of a symbolic link, as stored in the link.
    fn read_link(&self, path: &str) -> io::Result<String>;

    /// Last modification time, seconds since the Unix epoch.
    fn modified_unix(&self, path: &str) -> io::Result<u64>;

    /// Whether a path exists (following symbolic links).
    fn exists(&self, path: &str) -> bool;

    /// Runs a program found on `PATH` and returns its standard output.
    /// `None` means the program is not installed, which is not an error.
    fn run(&self, program: &str, args: &[&str]) -> Option<Result<String, CommandError>>;

    /// Facts read through portable APIs (sysinfo) rather than files.
    fn portable(&self) -> PortableFacts;

    /// The current time, seconds since the Unix epoch.
    fn now_unix(&self) -> u64;

    /// Reads a whole file as text; invalid UTF-8 is replaced rather than failing,
    /// because one odd byte in a package description must not hide the database.
    fn read_text(&self, path: &str) -> io::Result<String> {
        self.read(path).map(|bytes| match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }
}

/// Facts the collector takes from portable APIs. Every field is optional so a
/// source can supply what it knows and let files fill the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortableFacts {
    /// Host name.
    pub hostname: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPU architecture.
    pub arch: Option<String>,
    /// Boot time, seconds since the Unix epoch.
    pub boot_time_unix: Option<u64>,
    /// Seconds since boot.
    pub uptime_secs: Option<u64>,
    /// Physical core count.
    pub physical_cores: Option<u32>,
    /// Current CPU clock in MHz.
    pub cpu_frequency_mhz: Option<u32>,
    /// Mounted filesystems with their sizes.
    pub filesystems: Vec<Filesystem>,
    /// Network interfaces with addresses.
    pub network_interfaces: Vec<NetworkInterface>,
}

/// Why running a package tool failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// Program name.
        program: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The program ran longer than allowed and was killed.
    #[error("{program} did not finish within {seconds} s")]
    Timeout {
        /// Program name.
        program: String,
        /// The limit.
        seconds: u64,
    },
    /// The program exited unsuccessfully.
    #[error("{program} exited with {status}: {stderr}")]
    Failed {
        /// Program name.
        program: String,
        /// Exit status as printed by the OS.
        status: String,
        /// First line of its standard error.
        stderr: String,
    },
}
