//! The appliance's identity, as enrolment leaves it in the data directory:
//! `identity.json` (who it is, where Central Command is, which CA to trust,
//! the server key that signs orders) beside `appliance-key.pem` (its
//! Ed25519 key, PKCS#8 PEM, mode 0600). Both are replaced only by writing a
//! temporary file, syncing it and renaming it over the old one, so a crash
//! leaves the old identity or the new one, never half of either.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, SiteId};
use osiris_evidence::{KeyPair, PublicKey};
use serde::{Deserialize, Serialize};

use crate::uplink::error::UplinkError;
use crate::uplink::trust::{CaCertificates, ServerTrust};

/// The identity file inside the data directory.
pub const IDENTITY_FILE: &str = "identity.json";
/// The appliance's private key inside the data directory.
pub const KEY_FILE: &str = "appliance-key.pem";
/// The `format` of the identity file.
const FORMAT: &str = "osiris.appliance-identity.v1";

/// Who this appliance is to Central Command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its id, as the claim assigned it.
    pub appliance_id: ApplianceId,
    /// Its site.
    pub site_id: SiteId,
    /// Where it enrolled, e.g. `https://cc.example.net:8443`.
    pub server_url: String,
    /// The server key that signs orders.
    pub server_public_key: PublicKey,
    /// The public half of [`KEY_FILE`], as registered by the claim.
    pub public_key: PublicKey,
    /// What certificate it accepts from the server.
    pub trust: PinnedTrust,
    /// The server's time when the claim was answered.
    pub enrolled_at: DateTime<Utc>,
}

/// The trust pinned at enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinnedTrust {
    /// Exactly this CA.
    Ca(CaCertificates),
    /// The public web roots (an operator certificate from a public CA).
    PublicRoots,
    /// None: the server was enrolled over plain HTTP (tests, loopback).
    PlainHttp,
}

impl PinnedTrust {
    /// The trust to connect with; `None` for plain HTTP.
    #[must_use]
    pub fn server_trust(&self) -> Option<ServerTrust> {
        match self {
            Self::Ca(certs) => Some(ServerTrust::Ca(certs.clone())),
            Self::PublicRoots => Some(ServerTrust::PublicRoots),
            Self::PlainHttp => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    format: String,
    appliance_id: ApplianceId,
    site_id: SiteId,
    server_url: String,
    server_public_key: String,
    appliance_public_key: String,
    trust: TrustFile,
    enrolled_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum TrustFile {
    Ca { pem: String },
    PublicRoots,
    PlainHttp,
}

impl Identity {
    /// The identity file of `data_dir`.
    #[must_use]
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(IDENTITY_FILE)
    }

    /// The key file of `data_dir`.
    #[must_use]
    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEY_FILE)
    }

    /// Reads the identity stored in `data_dir`.
    ///
    /// # Errors
    /// [`UplinkError::NotEnrolled`] when there is none,
    /// [`UplinkError::BadIdentity`] when it does not read back.
    pub fn load(data_dir: &Path) -> Result<Self, UplinkError> {
        let path = Self::path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(UplinkError::NotEnrolled { path });
            }
            Err(source) => {
                return Err(UplinkError::Io {
                    what: "reading the identity",
                    path,
                    source,
                });
            }
        };
        let bad = |reason: String| UplinkError::BadIdentity {
            path: path.clone(),
            reason,
        };
        let file: IdentityFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        let key = |field: &str, text: &str| {
            PublicKey::from_base64(text).map_err(|reason| bad(format!("{field}: {reason}")))
        };
        Ok(Self {
            appliance_id: file.appliance_id,
            site_id: file.site_id,
            server_public_key: key("server_public_key", &file.server_public_key)?,
            public_key: key("appliance_public_key", &file.appliance_public_key)?,
            server_url: file.server_url,
            trust: match file.trust {
                TrustFile::Ca { pem } => PinnedTrust::Ca(
                    CaCertificates::from_pem(pem.as_bytes())
                        .map_err(|r| bad(format!("trust.pem: {r}")))?,
                ),
                TrustFile::PublicRoots => PinnedTrust::PublicRoots,
                TrustFile::PlainHttp => PinnedTrust::PlainHttp,
            },
            enrolled_at: file.enrolled_at,
        })
    }

    /// Reads the identity and the key of `data_dir`, refusing a key that
    /// is not the one the identity registered.
    ///
    /// # Errors
    /// As [`Identity::load`]; [`UplinkError::Key`] when the key file cannot
    /// be read (missing, too open, malformed); [`UplinkError::BadIdentity`]
    /// when it holds another key.
    pub fn load_with_key(data_dir: &Path) -> Result<(Self, KeyPair), UplinkError> {
        let identity = Self::load(data_dir)?;
        let key = KeyPair::load(&Self::key_path(data_dir))?;
        if key.public_key() != identity.public_key {
            return Err(UplinkError::BadIdentity {
                path: Self::path(data_dir),
                reason: format!(
                    "registered key {} but {} holds key {}; enrol again",
                    identity.public_key.key_id(),
                    KEY_FILE,
                    key.public_key().key_id()
                ),
            });
        }
        Ok((identity, key))
    }

    /// Writes the identity into `data_dir`, replacing any other.
    ///
    /// # Errors
    /// [`UplinkError::Io`] naming the file.
    pub fn save(&self, data_dir: &Path) -> Result<(), UplinkError> {
        let file = IdentityFile {
            format: FORMAT.to_owned(),
            appliance_id: self.appliance_id,
            site_id: self.site_id,
            server_url: self.server_url.clone(),
            server_public_key: self.server_public_key.to_base64(),
            appliance_public_key: self.public_key.to_base64(),
            trust: match &self.trust {
                PinnedTrust::Ca(certs) => TrustFile::Ca {
                    pem: certs.to_pem(),
                },
                PinnedTrust::PublicRoots => TrustFile::PublicRoots,
                PinnedTrust::PlainHttp => TrustFile::PlainHttp,
            },
            enrolled_at: self.enrolled_at,
        };
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| UplinkError::BadIdentity {
            path: Self::path(data_dir),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        write_atomically(&Self::path(data_dir), &bytes)
    }
}

/// Saves `key` as the key of `data_dir`, replacing any other: written to
/// a new temporary file (0600, synced), then renamed over the old one.
pub(crate) fn replace_key(data_dir: &Path, key: &KeyPair) -> Result<(), UplinkError> {
    let path = Identity::key_path(data_dir);
    let temporary = temporary_beside(&path)?;
    key.save_new(&temporary)?;
    rename_into_place(&temporary, &path)
}

/// Writes `bytes` to `path` through a synced temporary file (0600) and a
/// rename, then syncs the directory so the rename itself is durable.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), UplinkError> {
    let temporary = temporary_beside(path)?;
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(UplinkError::Io {
            what: "writing",
            path: temporary,
            source,
        });
    }
    rename_into_place(&temporary, path)
}

fn temporary_beside(path: &Path) -> Result<PathBuf, UplinkError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = getrandom::u64().map_err(|e| UplinkError::Io {
        what: "drawing a temporary name for",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(path.with_file_name(format!(".{name}.{suffix:016x}.tmp")))
}

fn rename_into_place(temporary: &Path, path: &Path) -> Result<(), UplinkError> {
    if let Err(source) = std::fs::rename(temporary, path) {
        let _ = std::fs::remove_file(temporary);
        return Err(UplinkError::Io {
            what: "renaming into place",
            path: path.to_path_buf(),
            source,
        });
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(UplinkError::io("syncing", parent))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use chrono::TimeZone as _;

    use super::*;

    fn identity(key: &KeyPair) -> Identity {
        Identity {
            appliance_id: ApplianceId::random(),
            site_id: SiteId::random(),
            server_url: "https://127.0.0.1:8443".to_owned(),
            server_public_key: KeyPair::generate().unwrap().public_key(),
            public_key: key.public_key(),
            trust: PinnedTrust::PublicRoots,
            enrolled_at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn an_identity_reads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let saved = identity(&key);
        replace_key(dir.path(), &key).unwrap();
        saved.save(dir.path()).unwrap();
        let (loaded, loaded_key) = Identity::load_with_key(dir.path()).unwrap();
        assert_eq!(loaded, saved);
        assert_eq!(loaded_key.public_key(), key.public_key());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [KEY_FILE, IDENTITY_FILE]);
        for name in names {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_other_than_the_registered_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        identity(&key).save(dir.path()).unwrap();
        replace_key(dir.path(), &KeyPair::generate().unwrap()).unwrap();
        let error = Identity::load_with_key(dir.path()).unwrap_err();
        assert!(error.to_string().contains("enrol again"), "{error}");
        replace_key(dir.path(), &key).unwrap();
        Identity::load_with_key(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_identity_says_to_enrol() {
        let dir = tempfile::tempdir().unwrap();
        let error = Identity::load(dir.path()).unwrap_err();
        assert!(matches!(error, UplinkError::NotEnrolled { .. }), "{error}");
        std::fs::write(Identity::path(dir.path()), b"{\"format\": 1}").unwrap();
        let error = Identity::load(dir.path()).unwrap_err();
        assert!(error.to_string().contains(IDENTITY_FILE), "{error}");
    }
}
