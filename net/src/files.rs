//! Private files on disk: the agent's credential and the console's token.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// `$ENV_VAR`, else `$XDG_CONFIG_HOME/APP`, else `~/.config/APP`.
pub fn config_dir(env_var: &str, app: &str) -> PathBuf {
    if let Some(d) = std::env::var_os(env_var) {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join(app)
}

/// Writes `bytes` to `dir/name`: the directory is created 0700, the file
/// 0600, through a temporary file and a rename so a crash never leaves half
/// a file. Returns the path that failed with the error.
///
/// # Errors
/// File system errors, with the path they concern.
pub fn write_private(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), (PathBuf, std::io::Error)> {
    let at = |p: &Path| {
        let p = p.to_path_buf();
        move |e| (p, e)
    };
    fs::create_dir_all(dir).map_err(at(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(at(dir))?;
    let path = dir.join(name);
    // Unique per writer: two processes saving the same file at once must
    // not rename each other's half-written copies.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(at(&tmp))?;
    f.write_all(bytes).map_err(at(&tmp))?;
    f.sync_all().map_err(at(&tmp))?;
    fs::rename(&tmp, &path).map_err(at(&path))
}

/// Logging for the binaries: `LIFELINE_LOG` filter (default info), to
/// stderr, coloured only on a terminal.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFELINE_LOG")
                .unwrap_or_else(|_| "info,quinn=warn,rustls=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
