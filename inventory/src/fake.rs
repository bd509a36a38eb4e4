//! A deterministic in-memory source for tests and benchmarks: a file tree loaded
//! from a fixture directory or built in code, canned command output, fixed
//! portable facts and a fixed clock.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use crate::source::{CommandError, InventorySource, PortableFacts};

/// An [`InventorySource`] that answers from memory.
#[derive(Clone, Debug, Default)]
pub struct FakeSource {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, String>,
    mtimes: BTreeMap<String, u64>,
    unreadable: BTreeSet<String>,
    commands: BTreeMap<String, Result<String, String>>,
    portable: PortableFacts,
    now: u64,
}

fn key(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

impl FakeSource {
    /// An empty machine: every file is missing, no tool is installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every file under `dir` (a fixture tree laid out like `/`), keyed by
    /// its path relative to `dir`. Symbolic links are kept as links.
    pub fn from_dir(dir: &Path) -> io::Result<Self> {
        let mut fake = Self::new();
        fake.load(dir, "")?;
        Ok(fake)
    }

    fn load(&mut self, dir: &Path, prefix: &str) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                self.links
                    .insert(rel, target.to_string_lossy().into_owned());
            } else if kind.is_dir() {
                self.load(&entry.path(), &rel)?;
            } else {
                self.files.insert(rel, std::fs::read(entry.path())?);
            }
        }
        Ok(())
    }

    /// Adds or replaces a file.
    pub fn with_file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.insert_file(path, contents);
        self
    }

    /// Adds or replaces a file in place.
    pub fn insert_file(&mut self, path: &str, contents: impl Into<Vec<u8>>) {
        self.files.insert(key(path), contents.into());
    }

    /// Removes a file, or every file under a directory.
    pub fn without(mut self, path: &str) -> Self {
        let path = key(path);
        let below = format!("{path}/");
        self.files
            .retain(|p, _| *p != path && !p.starts_with(&below));
        self.links
            .retain(|p, _| *p != path && !p.starts_with(&below));
        self
    }

    /// Adds a symbolic link.
    pub fn with_link(mut self, path: &str, target: &str) -> Self {
        self.links.insert(key(path), target.to_owned());
        self
    }

    /// Sets a file's modification time (files default to time 0 = unknown).
    pub fn with_mtime(mut self, path: &str, unix: u64) -> Self {
        self.mtimes.insert(key(path), unix);
        self
    }

    /// Makes a file or directory fail with "permission denied", as root-only
    /// files do for an unprivileged agent.
    pub fn with_unreadable(mut self, path: &str) -> Self {
        self.unreadable.insert(key(path));
        self
    }

    /// Installs a program whose run prints `stdout` (arguments are not checked).
    pub fn with_command(mut self, program: &str, stdout: &str) -> Self {
        self.commands
            .insert(program.to_owned(), Ok(stdout.to_owned()));
        self
    }

    /// Installs a program that exits with an error printing `stderr`.
    pub fn with_failing_command(mut self, program: &str, stderr: &str) -> Self {
        self.commands
            .insert(program.to_owned(), Err(stderr.to_owned()));
        self
    }

    /// Sets the portable facts.
    pub fn with_portable(mut self, facts: PortableFacts) -> Self {
        self.portable = facts;
        self
    }

    /// Sets the clock.
    pub fn with_now(mut self, unix: u64) -> Self {
        self.now = unix;
        self
    }

    fn check_readable(&self, path: &str) -> io::Result<()> {
        let denied = self
            .unreadable
            .iter()
            .any(|u| path == u || path.starts_with(&format!("{u}/")));
        if denied {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{path}: permission denied"),
            ));
        }
        Ok(())
    }

    fn is_dir(&self, path: &str) -> bool {
        let below = format!("{path}/");
        path.is_empty()
            || self.files.keys().any(|p| p.starts_with(&below))
            || self.links.keys().any(|p| p.starts_with(&below))
    }
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: not found"))
}

impl InventorySource for FakeSource {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let path = key(path);
        self.check_readable(&path)?;
        self.files
            .get(&path)
            .cloned()
            .ok_or_else(|| not_found(&path))
    }

    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let path = key(path);
        self.check_readable(&path)?;
        if !self.is_dir(&path) {
            return Err(not_found(&path));
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let names: BTreeSet<String> = self
            .files
            .keys()
            .chain(self.links.keys())
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next())
            .map(str::to_owned)
            .collect();
        Ok(names.into_iter().collect())
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        let path = key(path);
        self.links
            .get(&path)
            .cloned()
            .ok_or_else(|| not_found(&path))
    }

    fn modified_unix(&self, path: &str) -> io::Result<u64> {
        let path = key(path);
        if !self.files.contains_key(&path) {
            return Err(not_found(&path));
        }
        Ok(self.mtimes.get(&path).copied().unwrap_or(0))
    }

    fn exists(&self, path: &str) -> bool {
        let path = key(path);
        self.files.contains_key(&path) || self.links.contains_key(&path) || self.is_dir(&path)
    }

    fn run(&self, program: &str, _args: &[&str]) -> Option<Result<String, CommandError>> {
        let canned = self.commands.get(program)?;
        Some(canned.clone().map_err(|stderr| CommandError::Failed {
            program: program.to_owned(),
            status: "exit status: 1".to_owned(),
            stderr,
        }))
    }

    fn portable(&self) -> PortableFacts {
        self.portable.clone()
    }

    fn now_unix(&self) -> u64 {
        self.now
    }
}
