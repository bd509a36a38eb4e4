//! The console's saved login: relay, pin, user and session token.

use lifeline_proto::Secret;
use serde::{Deserialize, Serialize};
use std::{
    fs,
    path::{Path, PathBuf},
};

const FILE: &str = "console.json";

/// What `lifeline login` leaves behind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsoleConfig {
    pub relay: String,
    pub fingerprint: String,
    pub user: String,
    pub token: Secret,
    pub token_expires_unix: u64,
    /// Private half of this login's end-to-end session key (hex).
    #[serde(default)]
    pub e2e_private: Secret,
}

/// Reading or writing the console directory failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "not logged in; run `lifeline login --relay HOST:PORT --fingerprint sha256:… --user NAME`"
    )]
    NotLoggedIn,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({source}); run `lifeline login` again")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// `LIFELINE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/lifeline`, else `~/.config/lifeline`.
pub fn default_dir() -> PathBuf {
    lifeline_net::files::config_dir("LIFELINE_CONFIG_DIR", "lifeline")
}

impl ConsoleConfig {
    /// Loads the saved login.
    ///
    /// # Errors
    /// [`ConfigError::NotLoggedIn`] when there is none.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotLoggedIn);
            }
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
    }

    /// Saves the login: directory 0700, file 0600, written atomically.
    ///
    /// # Errors
    /// File system errors.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| ConfigError::Parse {
            path: dir.join(FILE),
            source,
        })?;
        lifeline_net::files::write_private(dir, FILE, &json)
            .map_err(|(path, source)| ConfigError::Io { path, source })
    }

    /// Forgets the saved login.
    ///
    /// # Errors
    /// File system errors other than "already gone".
    pub fn remove(dir: &Path) -> Result<(), ConfigError> {
        let path = dir.join(FILE);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }
}
