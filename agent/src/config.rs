//! The agent's enrollment state: which relay, which pin, which identity.

use lifeline_proto::Secret;
use serde::{Deserialize, Serialize};
use std::{
    fs,
    path::{Path, PathBuf},
};

/// File name inside the agent directory.
pub const FILE: &str = "agent.json";

/// What enrollment leaves behind. The credential never appears in `Debug`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AgentConfig {
    /// Relay address, `host:port`.
    pub relay: String,
    /// Pinned relay certificate, `sha256:…`.
    pub fingerprint: String,
    /// This machine's id on the relay.
    pub machine_id: String,
    /// This machine's secret.
    pub credential: Secret,
    /// Private half of this machine's end-to-end session key (hex); its
    /// public half went to the relay at enrollment. Empty when an older
    /// agent enrolled this machine.
    #[serde(default)]
    pub e2e_private: Secret,
    /// The organisation's public key (hex), given at enrollment: sessions
    /// need the organisation's approval of the technician's key. `None`:
    /// the relay's word on who the technician is suffices.
    #[serde(default)]
    pub org_key: Option<String>,
}

/// An organisation key given on the command line or found in `agent.json`
/// is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error(
    "the organisation key must be {} hex digits (what `lifeline org init` printed), got {got:?}",
    lifeline_net::org::ORG_KEY_LEN * 2
)]
pub struct BadOrgKey {
    pub got: String,
}

/// Parses an organisation key from hex.
///
/// # Errors
/// [`BadOrgKey`] for anything but 32 bytes of hex.
pub fn parse_org_key(text: &str) -> Result<Vec<u8>, BadOrgKey> {
    lifeline_net::e2e::key_from_hex(text, lifeline_net::org::ORG_KEY_LEN).ok_or_else(|| BadOrgKey {
        got: text.to_string(),
    })
}

impl AgentConfig {
    /// The organisation key, if this machine was enrolled with one.
    ///
    /// # Errors
    /// [`BadOrgKey`] when `agent.json` holds a malformed one.
    pub fn org_key(&self) -> Result<Option<Vec<u8>>, BadOrgKey> {
        self.org_key.as_deref().map(parse_org_key).transpose()
    }
}

/// Reading or writing the agent directory failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("this machine is not enrolled ({0} is missing); run `lifeline-agent enroll` first")]
    NotEnrolled(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The agent directory: `LIFELINE_AGENT_DIR`, else `$XDG_CONFIG_HOME/lifeline-agent`,
/// else `~/.config/lifeline-agent`.
pub fn default_dir() -> PathBuf {
    lifeline_net::files::config_dir("LIFELINE_AGENT_DIR", "lifeline-agent")
}

impl AgentConfig {
    /// Loads the configuration from `dir`.
    ///
    /// # Errors
    /// [`ConfigError::NotEnrolled`] when there is none.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotEnrolled(path));
            }
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
    }

    /// Saves to `dir` (created 0700), the file 0600, atomically.
    ///
    /// # Errors
    /// File system errors.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        write_private_json(dir, FILE, self)
    }
}

/// Writes `value` as JSON to `dir/name` with mode 0600 (directory 0700),
/// atomically.
///
/// # Errors
/// File system errors.
pub fn write_private_json<T: Serialize>(
    dir: &Path,
    name: &str,
    value: &T,
) -> Result<(), ConfigError> {
    let path = dir.join(name);
    let json = serde_json::to_vec_pretty(value).map_err(|source| ConfigError::Parse {
        path: path.clone(),
        source,
    })?;
    lifeline_net::files::write_private(dir, name, &json)
        .map_err(|(path, source)| ConfigError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saved_config_is_private_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("agent");
        let cfg = AgentConfig {
            relay: "127.0.0.1:7070".into(),
            fingerprint: "sha256:00".into(),
            machine_id: "abc".into(),
            credential: Secret::new("llm_secret"),
            e2e_private: Secret::new("00"),
            org_key: None,
        };
        cfg.save(&d).unwrap();
        let mode = fs::metadata(d.join(FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        let back = AgentConfig::load(&d).unwrap();
        assert_eq!(back.credential.expose(), "llm_secret");
        assert!(!format!("{back:?}").contains("llm_secret"));
    }

    #[test]
    fn missing_config_says_to_enroll() {
        let dir = tempfile::tempdir().unwrap();
        let err = AgentConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("lifeline-agent enroll"), "{err}");
    }
}
