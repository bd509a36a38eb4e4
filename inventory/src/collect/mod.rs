//! Turns an [`InventorySource`] into an [`Inventory`]. Each source is read and
//! parsed on its own; a failure becomes a [`SourceError`] and the rest goes on.

mod hardware;
mod software;
mod system;

use std::fmt::Display;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::model::{Category, Inventory, SourceError};
use crate::source::InventorySource;

/// Collects a full inventory. Never fails: what could not be read is listed in
/// [`Inventory::errors`] and the corresponding fields stay empty.
pub fn collect(source: &dyn InventorySource) -> Inventory {
    let mut errors = Errors::default();
    let portable = source.portable();
    // A parser bug must cost one category, not the agent's whole report.
    let system = guarded(&mut errors, Category::System, |errors| {
        system::collect_system(source, &portable, errors)
    });
    let hardware = guarded(&mut errors, Category::Hardware, |errors| {
        hardware::collect_hardware(source, &portable, errors)
    });
    let software = guarded(&mut errors, Category::Software, |errors| {
        software::collect_software(source, errors)
    });
    Inventory {
        collected_unix: source.now_unix(),
        system,
        hardware,
        software,
        errors: errors.0,
    }
}

fn guarded<T: Default>(
    errors: &mut Errors,
    category: Category,
    body: impl FnOnce(&mut Errors) -> T,
) -> T {
    let mut local = Errors::default();
    match catch_unwind(AssertUnwindSafe(|| body(&mut local))) {
        Ok(value) => {
            errors.0.append(&mut local.0);
            value
        }
        Err(_) => {
            errors.0.append(&mut local.0);
            errors.push(category, "collector", "internal error: collection panicked");
            T::default()
        }
    }
}

/// The errors of one collection run.
#[derive(Default)]
pub(crate) struct Errors(Vec<SourceError>);

impl Errors {
    pub(crate) fn push(&mut self, category: Category, source: &str, message: impl Display) {
        self.0.push(SourceError {
            category,
            source: source.to_owned(),
            message: message.to_string(),
        });
    }
}

/// Reads a text file that may legitimately be absent or root-only: `None`
/// without an error in both cases.
pub(crate) fn read_optional(source: &dyn InventorySource, path: &str) -> Option<String> {
    source.read_text(path).ok()
}

/// Reads a text file that should exist; a missing or unreadable file is recorded.
pub(crate) fn read_required(
    source: &dyn InventorySource,
    errors: &mut Errors,
    category: Category,
    name: &str,
    path: &str,
) -> Option<String> {
    match source.read_text(path) {
        Ok(text) => Some(text),
        Err(err) => {
            errors.push(category, name, describe_io(path, &err));
            None
        }
    }
}

pub(crate) fn describe_io(path: &str, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => format!("/{path} not found"),
        io::ErrorKind::PermissionDenied => format!("/{path}: permission denied"),
        _ => format!("/{path}: {err}"),
    }
}
