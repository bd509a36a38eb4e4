//! Lifeline agent inventory: what a user's machine is made of and has installed.
//!
//! - [`collect`] reads an [`InventorySource`] into an [`Inventory`]; a source that
//!   fails becomes a [`SourceError`] inside a partial inventory, never a panic.
//! - [`LinuxSource`] is the real machine (files under a root, package tools,
//!   sysinfo); [`FakeSource`] answers from a fixture tree for tests.
//! - [`category_hash`] fingerprints each [`Category`] without volatile fields, so
//!   the agent uploads only what changed; [`diff`] says what that was.
//! - [`compare_versions`] orders dpkg and rpm versions.
//!
//! The parsers in [`parse`] are pure functions on text and are public so that
//! other tools (and fuzzers) can use them directly.

mod collect;
mod command;
mod diff;
mod fake;
mod hash;
mod linux;
mod model;
pub mod parse;
mod source;
mod synthetic;
mod version;

pub use collect::collect;
pub use diff::{Change, ChangeKind, diff};
pub use fake::FakeSource;
pub use hash::category_hash;
pub use linux::LinuxSource;
pub use model::{
    Battery, Category, CpuInfo, Disk, Display, DmiInfo, Filesystem, Gpu, HardwareInfo, Inventory,
    NetworkInterface, OsRelease, Package, PackageSource, SoftwareInfo, SourceError, SystemInfo,
};
pub use source::{CommandError, InventorySource, PortableFacts};
pub use synthetic::{synthetic_dpkg_status, synthetic_inventory};
pub use version::{VersionScheme, compare_versions};
