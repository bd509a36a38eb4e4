//! The relay's data directory: certificate, key, reset secret, database.

use crate::store::{SqliteStore, StoreError};
use lifeline_net::Fingerprint;
use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// Setting up or reading the data directory failed.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the relay certificate: {0}")]
    Cert(String),
    #[error("{0} is not initialized; run `lifeline-relay init --data-dir {0}` first")]
    NotInitialized(PathBuf),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Paths inside a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (not touched until used).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn cert_path(&self) -> PathBuf {
        self.root.join("relay-cert.der")
    }

    fn key_path(&self) -> PathBuf {
        self.root.join("relay-key.der")
    }

    fn reset_path(&self) -> PathBuf {
        self.root.join("reset-key")
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("lifeline.db")
    }

    /// True when a certificate exists.
    pub fn is_initialized(&self) -> bool {
        self.cert_path().exists() && self.key_path().exists()
    }

    /// Creates what is missing: directory (0700), certificate and key (0600),
    /// stateless-reset secret (0600) and the migrated database. Existing
    /// files are kept, so `init` is idempotent and never rotates a pinned
    /// certificate by accident. Returns the certificate fingerprint and
    /// whether anything new was made.
    ///
    /// # Errors
    /// File system, certificate generation or store errors.
    pub fn init(&self) -> Result<(Fingerprint, bool), DataDirError> {
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(io_err(&self.root))?;
        let mut created = false;
        if !self.is_initialized() {
            let ck = rcgen::generate_simple_self_signed(vec![
                lifeline_net::tls::SERVER_NAME.to_string(),
                "localhost".to_string(),
            ])
            .map_err(|e| DataDirError::Cert(e.to_string()))?;
            write_private(&self.key_path(), &ck.signing_key.serialize_der())?;
            write_private(&self.cert_path(), ck.cert.der().as_ref())?;
            created = true;
        }
        if !self.reset_path().exists() {
            let mut secret = [0u8; 64];
            getrandom::fill(&mut secret).map_err(|e| DataDirError::Cert(e.to_string()))?;
            write_private(&self.reset_path(), &secret)?;
            created = true;
        }
        drop(SqliteStore::open(&self.db_path())?);
        restrict(&self.db_path())?;
        Ok((self.fingerprint()?, created))
    }

    /// The certificate's fingerprint.
    ///
    /// # Errors
    /// [`DataDirError::NotInitialized`] when there is no certificate.
    pub fn fingerprint(&self) -> Result<Fingerprint, DataDirError> {
        Ok(Fingerprint::of(&self.cert()?))
    }

    /// The certificate, DER.
    ///
    /// # Errors
    /// [`DataDirError::NotInitialized`] or read errors.
    pub fn cert(&self) -> Result<Vec<u8>, DataDirError> {
        self.read(&self.cert_path())
    }

    /// The private key, DER (PKCS#8).
    ///
    /// # Errors
    /// [`DataDirError::NotInitialized`] or read errors.
    pub fn key(&self) -> Result<Vec<u8>, DataDirError> {
        self.read(&self.key_path())
    }

    /// The stateless-reset secret.
    ///
    /// # Errors
    /// [`DataDirError::NotInitialized`] or read errors.
    pub fn reset_secret(&self) -> Result<Vec<u8>, DataDirError> {
        self.read(&self.reset_path())
    }

    /// Opens the store.
    ///
    /// # Errors
    /// [`DataDirError::NotInitialized`] or store errors.
    pub fn open_store(&self) -> Result<SqliteStore, DataDirError> {
        if !self.db_path().exists() {
            return Err(DataDirError::NotInitialized(self.root.clone()));
        }
        Ok(SqliteStore::open(&self.db_path())?)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>, DataDirError> {
        match fs::read(path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(DataDirError::NotInitialized(self.root.clone()))
            }
            Err(e) => Err(io_err(path)(e)),
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn restrict(path: &Path) -> Result<(), DataDirError> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("relay"));
        let (fp1, created1) = dd.init().unwrap();
        let (fp2, created2) = dd.init().unwrap();
        assert!(created1);
        assert!(!created2);
        assert_eq!(fp1, fp2);
        for p in [dd.key_path(), dd.cert_path(), dd.reset_path(), dd.db_path()] {
            let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let mode = fs::metadata(dd.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn fingerprint_without_init_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path());
        let err = dd.fingerprint().unwrap_err().to_string();
        assert!(err.contains("lifeline-relay init"), "{err}");
    }
}
